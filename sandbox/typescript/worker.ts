// deno-lint-ignore-file no-explicit-any
/**
 * The code that runs inside the permission-`none` worker of a TypeScript/JavaScript sandbox,
 * in the same realm as the user's program. {@linkcode workerMain} is serialised with
 * `Function.prototype.toString` and started from a blob URL (a sandbox with no read permission
 * cannot load a worker from a file), so it must not use anything from its module's scope: only
 * globals.
 *
 * One worker runs one program: it warms up, gets its run message from its host's realm over
 * its private channel, runs the program, gets the results of its calls the same way, and says
 * `done` after its end; the host then terminates it. Other programs of the same host run in
 * workers of their own at the same time. A session's worker runs its programs one after
 * another instead: after each end it waits for the next run message, and the global
 * definitions of one (the server rewrote its top-level declarations into them) are there in
 * the next.
 *
 * Runs in the untrusted sandbox host. Everything here can be tampered with by the user's code;
 * that only affects that program's own execution: the server checks every message. Imports
 * types only.
 *
 * @module
 */

import type { Channel } from "../channel.ts";
import type { Realm } from "../realm.ts";

/**
 * Entry point of the program worker: captures what it needs from the realm, replaces console
 * and stdio with capturing versions, removes escape hatches, warms the TypeScript transpiler,
 * and then waits for its host's init message and `go`.
 */
export function workerMain(realm: Realm): void {
  const D = Deno as any;
  const scope = globalThis as any;
  let channel: Channel | undefined;
  realm.realmObjectUrls();
  const memory = realm.realmMemory();
  const timers = realm.runtimeTimers();
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const inspect: (v: unknown) => string = D.inspect;
  const selfUrl = import.meta.url;
  // One object per call, made where the program calls the tool so that its stack points there;
  // `name` and `message` are filled in if the call fails (V8 formats the stack lazily).
  const ToolCallError = class ToolError extends Error {};
  const failures: Record<string, new (message?: string) => Error> = {
    ToolError: ToolCallError,
    TimeoutError: class TimeoutError extends ToolCallError {},
    // A replayed call that differs from the recorded one; uncaught, it ends the program as
    // `determinism_error`.
    DeterminismError: class DeterminismError extends ToolCallError {},
  };
  const isDeterminismError = (error: unknown) => error instanceof failures.DeterminismError!;
  // Call keys: the frame of a call is the chain of tool calls its code resumed from, kept in an
  // async context variable, so that it is the same however the results are timed. (The
  // variable is the one Deno's AsyncLocalStorage is built on; the program cannot reach it.)
  const frames = new (D[D.internal].core.AsyncVariable)();
  const callsIn = new Map<string, number>();
  const hashFrame = (frame: number[]) => {
    let h = 0x811c9dc5;
    const text = frame.join(".");
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h >>> 1;
  };

  /** Why a call's arguments or the return value cannot be sent (the limit, in the words of the
   * server, which enforces it). */
  let argsOverLimit = "";
  let valueOverLimit = "";
  let reportIdle = false;
  let started = false;
  let ended = false;
  /** The realm is a session's: it runs one program after another, each after the other's end. */
  let session = false;
  let fileName = "code.ts";
  // Modules are imported from data: URLs (a blob: URL costs a round trip to the process's blob
  // store, about half a millisecond each). Deno shortens long ones in stack traces, so the
  // program's URL is found by a marker of this worker's own in its media type.
  const marker = crypto.randomUUID().slice(0, 8);
  // A session's programs are told apart by their number (the same source twice is two modules).
  const userUrlPattern = new RegExp(
    `data:[a-z/]+;progtc=${marker}(?:;n=\\d+)?;base64,[A-Za-z0-9+/=.]*`,
    "g",
  );
  let programs = 0;
  const toolsUrlPattern = new RegExp(
    `data:[a-z/]+;progtc-tools=${marker};base64,[A-Za-z0-9+/=.]*`,
    "g",
  );
  const isUserUrl = (text: string) => {
    userUrlPattern.lastIndex = 0;
    return userUrlPattern.test(text);
  };
  const encoder = new TextEncoder();
  const dataUrl = (source: string, type: string, mark = "") =>
    `data:${type}${mark};base64,${(encoder.encode(source) as any).toBase64()}`;

  // ─── output: one line per write, at once (a program may never yield again) ─────────────
  const output = (stream: "stdout" | "stderr", data: string) => {
    if (started) channel!.output(stream, data);
  };

  // ─── the realm: output captured, exits reported, escapes closed ──────────────────────────
  class ExitSignal extends Error {}
  const exit = (code?: unknown) => {
    const n = Number(code ?? 0);
    end({ type: "exit", code: Number.isSafeInteger(n) ? n : 1 });
    // Nothing of the program counts from now on; the host terminates this worker.
    throw new ExitSignal("The program exited");
  };
  realm.captureStdio({ output, exit });
  const lockProcess = realm.closeEscapes({ output, exit });

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
      // The runner's frames and the runtime's own (`ext:`, `node:internal`) say nothing to
      // the program's author.
      const internal = frameLine.test(line) &&
        (line.includes(selfUrl) || /\((ext|node):|\bat (ext|node):/.test(line));
      if (!internal) kept.push(line);
      else if (line.endsWith(" {") && kept.length > 0) kept.push(`${kept.pop()} {`);
    }
    const formatted = kept.join("\n").replace(userUrlPattern, fileName)
      .replace(toolsUrlPattern, "tools")
      // Deno's advice is for whoever starts a process; a program cannot take it.
      .replace(/, run again with the --allow-\w+ flag/g, ", which programs here do not have")
      // A module that cannot load: its error code is the runtime's, not the program's concern.
      .replace(/ \{\n\s+code: "ERR_MODULE_NOT_FOUND"\n\}$/, "")
      .replace(
        "npm specifiers were requested; but --no-npm is specified",
        'npm: packages cannot be imported by programs here (import tools from "tools")',
      );
    // The server keeps at most 64 KiB of an error's text (MAX_ERROR_BYTES).
    return realm.clipText(formatted, 65_536, "\n[progtc: error text truncated]") + "\n";
  };
  const isSyntaxError = (error: unknown): boolean => {
    if (!(error instanceof Error)) return false;
    const [first = "", ...frames] = String(error.stack ?? "").split("\n");
    if (
      error instanceof TypeError && (error as any).code === "ERR_MODULE_NOT_FOUND" &&
      error.message.startsWith("SyntaxError: ")
    ) return isUserUrl(error.message);
    // Early errors and link errors ("does not provide an export named") name the location in
    // the message line and have no frame in the user's code; a SyntaxError thrown while the
    // program runs (JSON.parse) has one.
    return error instanceof SyntaxError && isUserUrl(first) &&
      !frames.some((f) => frameLine.test(f) && isUserUrl(f));
  };
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    if (!(event.reason instanceof ExitSignal)) {
      const type = isDeterminismError(event.reason) ? "determinism_error" : "runtime_error";
      end({ type, error: formatError(event.reason) });
    }
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    if (!(event.error instanceof ExitSignal)) {
      end({ type: "runtime_error", error: formatError(event.error ?? event.message) });
    }
  });

  // ─── answers: the server's lines for this program, as they come ─────────────────────────
  interface Pending {
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
    /** The error the call rejects with if it fails, made at the call site. */
    error: Error;
  }
  const pending = new Map<number, Pending>();
  const receive = (line: string) => {
    if (ended) return;
    let message: any;
    try {
      message = parse(line);
    } catch {
      return;
    }
    // A batch is settled at once: the program runs again only after all of it.
    const items = message?.type === "tool_results" && Array.isArray(message.items)
      ? message.items
      : [message];
    for (const item of items) settle(item);
    // The program may now wait on what is left without calling anything new: say so again.
    scheduleIdle();
  };
  const settle = (message: any) => {
    if (message?.type !== "tool_result" && message?.type !== "tool_error") return;
    const call = pending.get(message.id);
    if (!call) return;
    pending.delete(message.id);
    if (message.type === "tool_result") return call.resolve(message.value);
    const name = Object.hasOwn(failures, message.name) ? message.name : "ToolError";
    Object.setPrototypeOf(call.error, failures[name]!.prototype);
    call.error.name = name;
    call.error.message = message.message;
    call.reject(call.error);
  };
  const end = (message: Record<string, unknown>) => {
    if (ended) return;
    ended = true;
    // Only a return value can make an end too long for the channel; the server would refuse it.
    // A session's realm stays for its next program.
    channel!.end(
      stringify(message),
      stringify({ type: "runtime_error", error: valueOverLimit }),
      session,
    );
  };

  // ─── tools ─────────────────────────────────────────────────────────────────────────────
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
        if (pending.size > 0 && !ended) channel!.idle([...pending.keys()]);
      })
    );
  };
  const isScalar = (value: unknown) =>
    value === null || typeof value === "string" || typeof value === "number" ||
    typeof value === "boolean";
  const callTool = (name: string, args: unknown[], kwargs: unknown): Promise<unknown> => {
    if (ended) return new Promise(() => {});
    const argsJson = stringify(args);
    const kwargsJson = stringify(kwargs ?? {});
    if (kwargsJson[0] !== "{") {
      return Promise.reject(new TypeError(`Keyword arguments of ${name}() must be an object`));
    }
    const id = nextId;
    const frame: number[] = frames.get() ?? [0];
    const frameKey = frame.join(".");
    const index = callsIn.get(frameKey) ?? 0;
    const head = `{"type":"tool_call","id":${id},"name":${stringify(name)},"args":`;
    const tail = `,"kwargs":${kwargsJson},"frame":[${
      frameKey.replaceAll(".", ",")
    }],"index":${index}}`;
    const line = head + argsJson + tail;
    // The server measures the arguments against their limit; the pipe only carries lines that
    // fit its bound (longer ones would break the protocol), and a call that does not fit is
    // over the limit too: it fails here, as the server would fail it, and counts for nothing.
    if (!channel!.fits(line)) {
      const error = new ToolCallError(`Arguments of ${name}() ${argsOverLimit}`);
      error.name = "ToolError";
      return Promise.reject(error);
    }
    nextId++;
    callsIn.set(frameKey, index + 1);
    // What runs after this call (the code awaiting it) runs in a frame of its own.
    const next = frame.length < 16 ? [...frame, index] : [0, hashFrame([...frame, index])];
    frames.enter(next);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    pending.set(id, { resolve, reject, error: new ToolCallError() });
    // Sent now, or once the answers to earlier calls make room for it, as it was made: a call
    // whose arguments cannot change (no objects) is kept as them, not as a copy of its line
    // (a flood of one large string then costs nothing more).
    const kept = [...args];
    channel!.call(
      id,
      line,
      kwargsJson === "{}" && kept.every(isScalar) ? () => head + stringify(kept) + tail : undefined,
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
    if (started) {
      // A session's next program: what the last one defined stays; its calls do not.
      ended = false;
      pending.clear();
      callsIn.clear();
      channel!.reopen();
    }
    session = message.session === true;
    argsOverLimit = `exceed the limit of ${message.maxToolArgsBytes} bytes of JSON`;
    valueOverLimit =
      `Error: the program's return value exceeds the limit of ${message.maxToolArgsBytes} bytes of JSON\n`;
    channel!.setLimits(message.maxLineLength, message.maxOutputBytes, message.maxPendingCallChars);
    channel!.reportMemory(memory);
    reportIdle = message.reportIdle === true;
    if (message.nodeModules) lockProcess();
    const javascript = message.language === "javascript";
    fileName = javascript ? "code.js" : "code.ts";
    const toolsUrl = dataUrl(
      toolsModule(message.toolNames),
      "text/javascript",
      `;progtc-tools=${marker}`,
    );
    let code: string = message.code;
    const ranges = [...message.toolsSpecifiers].sort((a: any, b: any) => b.start - a.start);
    for (const { start, end, quoted } of ranges) {
      code = code.slice(0, start) + (quoted ? stringify(toolsUrl) : toolsUrl) + code.slice(end);
    }
    const userUrl = dataUrl(
      code,
      javascript ? "text/javascript" : "application/typescript",
      `;progtc=${marker};n=${++programs}`,
    );
    started = true;
    try {
      const module = await import(userUrl);
      if (!message.returnValue || module.default === undefined) return end({ type: "success" });
      // A default export that rejects is the program's error (a failed tool, a determinism
      // mismatch), reported as such; only a value that is not JSON is this runner's complaint.
      const value = await module.default;
      let json: string | undefined;
      try {
        json = stringify(value);
      } catch (error) {
        throw new TypeError(
          `The program's default export cannot be sent as JSON: ${(error as Error)?.message}`,
        );
      }
      if (json === undefined) return end({ type: "success" });
      end({ type: "success", value: parse(json) });
    } catch (error) {
      if (error instanceof ExitSignal) return;
      end({
        type: isDeterminismError(error)
          ? "determinism_error"
          : isSyntaxError(error)
          ? "syntax_error"
          : "runtime_error",
        error: formatError(error),
      });
    }
  };

  const init = (port: MessagePort) => {
    channel = realm.openChannel(port, realm, timers);
    // The first line is the run message; the others answer the program's calls.
    channel.onLine = (line) => {
      if (started && !ended) return receive(line);
      // After its end, a program's realm takes only a session's next run.
      if (started && !session) return;
      let message: any;
      try {
        message = parse(line);
      } catch {
        return;
      }
      if (message?.type === "run") run(message);
    };
    // Warm the TypeScript transpiler and the module loader before the program (ms when cold).
    import(dataUrl("const warm: number = 1; export default warm;", "application/typescript"))
      .then(
        () => channel!.signal({ type: "warm" }),
        (error) => channel!.signal({ type: "failed", error: String(error) }),
      );
  };
  scope.onmessage = (event: MessageEvent) => {
    const port = event.data?.port;
    scope.onmessage = null;
    if (port instanceof MessagePort) init(port);
  };
}
