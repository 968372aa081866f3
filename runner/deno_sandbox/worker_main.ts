// deno-lint-ignore-file no-explicit-any
/**
 * The code that runs inside the permission-`none` worker of a Deno sandbox, in the same realm
 * as the user's program. {@linkcode workerMain} is serialised with `Function.prototype.toString`
 * and started from a blob URL (a sandbox with no read permission cannot load a worker from a
 * file), so it must not use anything from its module's scope: only globals.
 *
 * Everything here can be tampered with by the user's code; it only affects that program's own
 * execution, because the server checks every message and the process serves one execution.
 *
 * @module
 */

import type { Realm } from "../realm.ts";

/**
 * Entry point of the user worker: captures what it needs from the realm, replaces console and
 * stdio with capturing versions, removes escape hatches, warms the TypeScript transpiler, and
 * then waits for one `run` message.
 */
export function workerMain(realm: Realm): void {
  const D = Deno as any;
  const scope = globalThis as any;
  const post: (line: string) => void = scope.postMessage.bind(scope);
  const stringify = JSON.stringify;
  const inspect: (v: unknown) => string = D.inspect;
  const selfUrl = import.meta.url;
  // One object per call, made where the program calls the tool so that its stack points there;
  // `name` and `message` are filled in if the call fails (V8 formats the stack lazily).
  const ToolCallError = class ToolError extends Error {};

  let maxToolArgsBytes = Infinity;
  let reportIdle = false;
  let ended = false;
  let userUrl = "\0";
  let fileName = "code.ts";
  let toolsUrl = "\0";

  const send = (message: object) => post(stringify(message));
  // Output is forwarded up to the limit plus the chunk that crosses it (so that the server
  // marks the truncation), then only dropped: a flood costs no messages.
  let outputBudget = Infinity;
  const output = (stream: "stdout" | "stderr", data: string) => {
    if (data === "" || ended || outputBudget < 0) return;
    outputBudget -= data.length;
    if (outputBudget < 0) data = data.slice(0, data.length + outputBudget + 1);
    send({ type: "output", stream, data });
  };
  const end = (message: object) => {
    if (ended) return;
    ended = true;
    send(message);
  };

  // ─── the realm: output captured, exits reported, escapes closed ──────────────────────────
  const exit = (code?: unknown) => {
    const n = Number(code ?? 0);
    end({ type: "exit", code: Number.isSafeInteger(n) ? n : 1 });
    // The realm relays the exit; the server then kills the process. Never return to the caller.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  };
  realm.captureStdio({ output, exit });
  realm.closeEscapes({ output, exit });

  // ─── errors ────────────────────────────────────────────────────────────────────────────
  const frameLine = /^\s+at /;
  const formatError = (error: unknown): string => {
    let text: string;
    if (error instanceof Error) {
      text = inspect(error);
      if (
        error instanceof TypeError && (error as any).code === "ERR_MODULE_NOT_FOUND" &&
        error.message.startsWith("SyntaxError: ")
      ) text = text.replace(/^TypeError: /, "");
    } else {
      text = `Uncaught ${inspect(error)}`;
    }
    const kept: string[] = [];
    for (const line of text.split("\n")) {
      if (!(frameLine.test(line) && line.includes(selfUrl))) kept.push(line);
      else if (line.endsWith(" {") && kept.length > 0) kept.push(`${kept.pop()} {`);
    }
    return kept.join("\n")
      .replaceAll(userUrl, fileName)
      .replaceAll(toolsUrl, "tools") + "\n";
  };
  const isSyntaxError = (error: unknown): boolean => {
    if (!(error instanceof Error)) return false;
    const [first = "", ...frames] = String(error.stack ?? "").split("\n");
    if (
      error instanceof TypeError && (error as any).code === "ERR_MODULE_NOT_FOUND" &&
      error.message.startsWith("SyntaxError: ")
    ) return error.message.includes(userUrl);
    // Early errors and link errors ("does not provide an export named") name the location in
    // the message line and have no frame in the user's code; a SyntaxError thrown while the
    // program runs (JSON.parse) has one.
    return error instanceof SyntaxError && first.includes(userUrl) &&
      !frames.some((f) => frameLine.test(f) && f.includes(userUrl));
  };
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    end({ type: "runtime_error", error: formatError(event.reason) });
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    end({ type: "runtime_error", error: formatError(event.error ?? event.message) });
  });

  // ─── tools ─────────────────────────────────────────────────────────────────────────────
  interface Pending {
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
    /** The error the call rejects with if it fails, made at the call site. */
    error: Error;
  }
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let idleScheduled = false;
  const tickChannel = new MessageChannel();
  const ticks: (() => void)[] = [];
  tickChannel.port1.onmessage = () => ticks.shift()?.();
  const macrotask = (fn: () => void) => {
    ticks.push(fn);
    tickChannel.port2.postMessage(null);
  };
  const scheduleIdle = () => {
    if (!reportIdle || idleScheduled) return;
    idleScheduled = true;
    const issued = nextId;
    // Two macrotask turns with no new call: whatever the program runs next waits on a tool.
    // (A message to ourselves is a macrotask without the ~2 ms of a timer turn.)
    macrotask(() =>
      macrotask(() => {
        idleScheduled = false;
        if (nextId !== issued) return scheduleIdle();
        if (pending.size > 0 && !ended) send({ type: "idle" });
      })
    );
  };
  const callTool = (name: string, args: unknown[], kwargs: unknown): Promise<unknown> => {
    if (ended) return new Promise(() => {});
    const argsJson = stringify(args);
    const kwargsJson = stringify(kwargs ?? {});
    if (kwargsJson[0] !== "{") {
      return Promise.reject(new TypeError(`Keyword arguments of ${name}() must be an object`));
    }
    if (argsJson.length + kwargsJson.length > maxToolArgsBytes) {
      return Promise.reject(
        new RangeError(`Arguments of ${name}() exceed the limit of ${maxToolArgsBytes} bytes`),
      );
    }
    const id = nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    pending.set(id, { resolve, reject, error: new ToolCallError() });
    post(
      `{"type":"tool_call","id":${id},"name":${
        stringify(name)
      },"args":${argsJson},"kwargs":${kwargsJson}}`,
    );
    scheduleIdle();
    return promise;
  };
  const makeTool = (name: string) => {
    const tool = (...args: unknown[]) => {
      if (args.some((arg) => typeof arg === "function")) {
        // `await import("tools")` calls a `then` export as a thenable: settle with the other
        // tools. No real tool call can take functions, which are not JSON.
        if (name === "then" && typeof args[0] === "function") {
          const others = Object.fromEntries(
            Object.entries(tools).filter(([key]) => key !== "then"),
          );
          return (args[0] as (value: unknown) => void)(others);
        }
        return Promise.reject(new TypeError(`Arguments of ${name}() must be JSON values`));
      }
      return callTool(name, args, {});
    };
    Object.defineProperty(tool, "name", { value: name });
    tool.invoke = (args: unknown[] = [], kwargs: Record<string, unknown> = {}) =>
      callTool(name, Array.isArray(args) ? args : [args], kwargs);
    tools[name] = tool;
    return tool;
  };
  const tools: Record<string, unknown> = Object.create(null);
  Object.defineProperty(globalThis, Symbol.for("progtc.tool"), { value: makeTool });

  const blobUrl = (source: string, type: string) =>
    URL.createObjectURL(new Blob([source], { type }));
  const toolsModule = (names: string[]) => {
    const lines = [`const tool = globalThis[Symbol.for("progtc.tool")];`];
    names.forEach((name, i) => {
      lines.push(
        `const t${i} = tool(${stringify(name)});`,
        `export { t${i} as ${stringify(name)} };`,
      );
    });
    return lines.join("\n");
  };

  // ─── run ───────────────────────────────────────────────────────────────────────────────
  const run = async (message: any) => {
    maxToolArgsBytes = message.maxToolArgsBytes;
    outputBudget = message.maxOutputBytes;
    reportIdle = message.reportIdle === true;
    const javascript = message.language === "javascript";
    fileName = javascript ? "code.js" : "code.ts";
    toolsUrl = blobUrl(toolsModule(message.toolNames), "text/javascript");
    let code: string = message.code;
    const ranges = [...message.toolsSpecifiers].sort((a: any, b: any) => b.start - a.start);
    for (const { start, end, quoted } of ranges) {
      code = code.slice(0, start) + (quoted ? stringify(toolsUrl) : toolsUrl) + code.slice(end);
    }
    userUrl = blobUrl(code, javascript ? "text/javascript" : "application/typescript");
    try {
      await import(userUrl);
      end({ type: "success" });
    } catch (error) {
      end({
        type: isSyntaxError(error) ? "syntax_error" : "runtime_error",
        error: formatError(error),
      });
    }
  };

  scope.onmessage = (event: MessageEvent) => {
    // The realm relays raw lines: parsing here keeps deep values off its stack (structured
    // clone recurses; JSON.parse does not).
    let message: any;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (message?.type) {
      case "run":
        run(message);
        break;
      case "tool_result":
      case "tool_error": {
        const call = pending.get(message.id);
        if (!call) return;
        pending.delete(message.id);
        if (message.type === "tool_result") return call.resolve(message.value);
        call.error.name = message.name === "TimeoutError" ? "TimeoutError" : "ToolError";
        call.error.message = message.message;
        call.reject(call.error);
        break;
      }
    }
  };

  // Warm the TypeScript transpiler before the first program (6–15 ms when cold).
  import(blobUrl("const warm: number = 1; export default warm;", "application/typescript"))
    .then(
      () => send({ type: "ready" }),
      (error) => end({ type: "runtime_error", error: String(error) }),
    );
}
