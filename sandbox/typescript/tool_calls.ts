// deno-lint-ignore-file no-explicit-any
/**
 * A TypeScript program's tool calls: the tools it imports, each call's line (with its call key:
 * the frame of tool calls its code resumed from, and its index there), the answers that settle
 * them, and the idle reports that say the program waits on tools only.
 *
 * Runs in the untrusted sandbox host, in the program's realm: {@linkcode toolCalls} is
 * serialised with `Function.prototype.toString` into the worker's source (see `../realm.ts`
 * `workerSource`), so it uses nothing from its module's scope. Everything here can be tampered
 * with by the program; that only affects its own execution: the server checks every message.
 * Imports types only.
 *
 * @module
 */

import type { Channel } from "../channel.ts";

/** What the tool calls need of their worker. */
export interface ToolCallsContext {
  /** The worker's channel (open before any program runs). */
  channel: () => Channel;
  /** The program has ended: its calls are not sent any more. */
  ended: () => boolean;
  /** The errors a failed call rejects with, by the name the server gives. */
  failures: Record<string, new (message?: string) => Error>;
  /** The async context variable of call frames (made before the realm is closed). */
  frames: { get(): number[] | undefined; enter(frame: number[]): void };
}

/** A program's tool calls, as {@linkcode toolCalls} makes them. */
export interface ToolCalls {
  /** One of the server's lines for the program: an answer or a batch of them. */
  receive(line: string): void;
  /** The source of the `tools` module with these tools. */
  toolsModule(names: string[]): string;
  /** The tool `name`, as the `tools` module exports it. */
  makeTool(name: string): unknown;
  /** A run's limits: what a call over the arguments' limit says, and whether to report idle. */
  setRun(argsOverLimit: string, reportIdle: boolean): void;
  /** A session's next program: the last one's calls are forgotten. */
  reset(): void;
}

/** Makes the program's tool calls; runs in the worker's realm. */
export function toolCalls(context: ToolCallsContext): ToolCalls {
  const { channel, ended, failures, frames } = context;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const ToolCallError = failures.ToolError!;
  const hashFrame = (frame: number[]) => {
    let h = 0x811c9dc5;
    const text = frame.join(".");
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h >>> 1;
  };
  interface Pending {
    resolve: (value: unknown) => void;
    reject: (error: unknown) => void;
    /** The error the call rejects with if it fails, made at the call site. */
    error: Error;
  }
  const pending = new Map<number, Pending>();
  const callsIn = new Map<string, number>();
  let argsOverLimit = "";
  let reportIdle = false;
  let nextId = 1;

  // ─── idle reports ──────────────────────────────────────────────────────────────────────
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
        if (pending.size > 0 && !ended()) channel().idle([...pending.keys()]);
      })
    );
  };

  // ─── answers ───────────────────────────────────────────────────────────────────────────
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
  const receive = (line: string) => {
    if (ended()) return;
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

  // ─── calls ─────────────────────────────────────────────────────────────────────────────
  const isScalar = (value: unknown) =>
    value === null || typeof value === "string" || typeof value === "number" ||
    typeof value === "boolean";
  const callTool = (name: string, args: unknown[], kwargs: unknown): Promise<unknown> => {
    if (ended()) return new Promise(() => {});
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
    if (!channel().fits(line)) {
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
    channel().call(
      id,
      line,
      kwargsJson === "{}" && kept.every(isScalar) ? () => head + stringify(kept) + tail : undefined,
    );
    scheduleIdle();
    return promise;
  };

  // ─── the tools module ──────────────────────────────────────────────────────────────────
  const tools: Record<string, unknown> = Object.create(null);
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

  return {
    receive,
    toolsModule,
    makeTool,
    setRun: (overLimit, idle) => {
      argsOverLimit = overLimit;
      reportIdle = idle;
    },
    reset: () => {
      pending.clear();
      callsIn.clear();
    },
  };
}
