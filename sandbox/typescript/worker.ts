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
import type { programErrors } from "./program_errors.ts";
import type { toolCalls } from "./tool_calls.ts";

/** What the worker gets besides the realm's lock-down (see `../realm.ts` `workerSource`). */
export interface TypeScriptKit {
  programErrors: typeof programErrors;
  toolCalls: typeof toolCalls;
}

/**
 * Entry point of the program worker: captures what it needs from the realm, replaces console
 * and stdio with capturing versions, removes escape hatches, warms the TypeScript transpiler,
 * and then waits for its host's init message and `go`.
 */
export function workerMain(realm: Realm, kit: TypeScriptKit): void {
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

  /** Why the return value cannot be sent (the limit, in the words of the server, which
   * enforces it); a call's arguments are refused by `./tool_calls.ts`. */
  let valueOverLimit = "";
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
  const errors = kit.programErrors({
    selfUrl,
    userUrlPattern,
    toolsUrlPattern,
    fileName: () => fileName,
    inspect,
    clipText: realm.clipText,
  });
  const formatError = errors.format;
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

  // ─── the end: one message, once ─────────────────────────────────────────────────────────
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
  const calls = kit.toolCalls({ channel: () => channel!, ended: () => ended, failures, frames });
  Object.defineProperty(globalThis, Symbol.for("progtc.tool"), { value: calls.makeTool });

  // ─── run ───────────────────────────────────────────────────────────────────────────────
  const run = async (message: any) => {
    if (started) {
      // A session's next program: what the last one defined stays; its calls do not.
      ended = false;
      calls.reset();
      channel!.reopen();
    }
    session = message.session === true;
    valueOverLimit =
      `Error: the program's return value exceeds the limit of ${message.maxToolArgsBytes} bytes of JSON\n`;
    channel!.setLimits(message.maxLineLength, message.maxOutputBytes, message.maxPendingCallChars);
    channel!.reportMemory(memory);
    calls.setRun(
      `exceed the limit of ${message.maxToolArgsBytes} bytes of JSON`,
      message.reportIdle === true,
    );
    if (message.nodeModules) lockProcess();
    const javascript = message.language === "javascript";
    fileName = javascript ? "code.js" : "code.ts";
    const toolsUrl = dataUrl(
      calls.toolsModule(message.toolNames),
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
          : errors.isSyntaxError(error)
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
      if (started && !ended) return calls.receive(line);
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
