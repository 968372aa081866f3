/**
 * A fake {@linkcode Sandbox} for unit tests of what sits above the runner seam (`Execution`,
 * `StepRun`, `StepService`): it runs a program written as a JavaScript function in the test
 * process, turns its tool calls into the events a real sandbox sends (with the call keys the
 * test gives), and says `idle` like a real one: when the program waits on tool calls only.
 *
 * @module
 */
import type { Sandbox, SandboxEvent } from "../runner/sandbox.ts";
import type { ServerMessage } from "../sandbox/messages.ts";

/** Where a call is in the program: its call key. */
export interface Key {
  frame: number[];
  index: number;
}

/** What a fake program can do. */
export interface FakeTools {
  /** Calls a tool; keyed `key` (default: frame [0], the next index there). */
  call(name: string, args?: unknown[], key?: Key): Promise<unknown>;
  print(text: string): void;
}

/** A program: it runs once per sandbox, and throws to end as a runtime error. */
export type FakeProgram = (tools: FakeTools) => Promise<void>;

/** Which program a run message's code names (a test's own table). */
export type FakePrograms = (code: string) => FakeProgram;

let nextPid = 100_000;

/** A sandbox that runs a {@linkcode FakeProgram}. */
export class FakeSandbox implements Sandbox {
  readonly kind = "deno" as const;
  readonly pid: number = nextPid++;
  readonly runs = 0;
  /** A worker took the program (at once, unless `startsAfterMs` says otherwise). */
  started: boolean;
  readonly released: Promise<void>;
  memoryBytes = 0;
  /** Every message the execution sent, in order. */
  readonly sent: ServerMessage[] = [];
  /** `finish` was called. */
  finished = false;
  /** The program was still running when `finish` was called (a real host stops its worker). */
  stopped: boolean | undefined;
  #listener: ((event: SandboxEvent) => void) | undefined;
  #backlog: SandboxEvent[] = [];
  #release = Promise.withResolvers<void>();
  #programs: FakePrograms;
  #pending = new Map<number, PromiseWithResolvers<unknown>>();
  #nextId = 1;
  #counters = new Map<string, number>();
  #done = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  #startsAfterMs: number | undefined;

  /**
   * `startsAfterMs`: the program waits that long for a worker (as on a busy host) before it
   * runs, and its execution hears `started`; `Infinity`: no worker ever takes it.
   */
  constructor(programs: FakePrograms, options: { startsAfterMs?: number } = {}) {
    this.#programs = programs;
    this.released = this.#release.promise;
    this.#startsAfterMs = options.startsAfterMs;
    this.started = this.#startsAfterMs === undefined;
  }

  /** Whether the sandbox is still held (not finished). */
  get live(): boolean {
    return !this.finished;
  }

  listen(listener: (event: SandboxEvent) => void): void {
    this.#listener = listener;
    for (const event of this.#backlog.splice(0)) listener(event);
  }

  send(message: ServerMessage): void {
    if (this.finished) return;
    this.sent.push(message);
    if (message.type === "run") return this.#take(this.#programs(message.code));
    const items = message.type === "tool_results" ? message.items : [message];
    for (const item of items) {
      if (item.type === "stop") continue;
      const call = this.#pending.get(item.id);
      if (!call) continue;
      this.#pending.delete(item.id);
      if (item.type === "tool_result") call.resolve(item.value);
      else {
        const error = new Error(item.message);
        error.name = item.name;
        call.reject(error);
      }
    }
    this.#scheduleIdle();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopped = !this.#done;
    clearTimeout(this.#idleTimer);
    this.#release.resolve();
  }

  evict(error: string): void {
    this.#emit({ type: "out_of_memory", error });
  }

  /** Fake programs run once: a session's next program needs a real sandbox. */
  keep(): boolean {
    return false;
  }

  #emit(event: SandboxEvent): void {
    if (this.finished) return;
    if (this.#listener) this.#listener(event);
    else this.#backlog.push(event);
  }

  /** Runs the program once a worker takes it. */
  #take(program: FakeProgram): void {
    const after = this.#startsAfterMs;
    if (after === undefined) return this.#run(program);
    if (after === Infinity) return;
    const timer = setTimeout(() => {
      if (this.finished) return;
      this.started = true;
      this.#emit({ type: "started" });
      this.#run(program);
    }, after);
    this.released.then(() => clearTimeout(timer));
  }

  #run(program: FakeProgram): void {
    const tools: FakeTools = {
      call: (name, args = [], key) => {
        if (this.#done) return new Promise(() => {});
        const frame = key?.frame ?? [0];
        const counter = frame.join(".");
        const index = key?.index ?? this.#counters.get(counter) ?? 0;
        this.#counters.set(counter, Math.max(index + 1, this.#counters.get(counter) ?? 0));
        const id = this.#nextId++;
        const result = Promise.withResolvers<unknown>();
        this.#pending.set(id, result);
        const call = { type: "tool_call" as const, id, name, args, kwargs: {}, frame, index };
        this.#emit({ ...call, chars: JSON.stringify(call).length });
        this.#scheduleIdle();
        return result.promise;
      },
      print: (text) => this.#emit({ type: "output", stream: "stdout", data: text }),
    };
    program(tools).then(
      () => this.#end({ type: "success" }),
      (error) =>
        this.#end(
          error?.name === "DeterminismError"
            ? { type: "determinism_error", error: `DeterminismError: ${error.message}\n` }
            : { type: "runtime_error", error: `${error}\n` },
        ),
    );
  }

  #end(event: SandboxEvent): void {
    this.#done = true;
    this.#emit(event);
  }

  /** After the program's pending work ran (a macrotask later), say whether it waits only on calls. */
  #scheduleIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (!this.#done && this.#pending.size > 0) {
        this.#emit({ type: "idle", pending: [...this.#pending.keys()] });
      }
    }, 5);
  }
}
