/**
 * One program slot of a sandbox host, as its execution holds it (the {@linkcode Sandbox} seam):
 * events of its program, in order, to one listener at a time (kept until one listens); what the
 * execution sends, to the host under the slot's number; released once its worker is verifiably
 * gone. A session keeps a slot from one program to the next (`keep`).
 *
 * @module
 */
import type { SandboxKind, ServerMessage } from "../sandbox/messages.ts";
import { isEndMessage } from "./host_messages.ts";
import type { ReceivedMessage, Sandbox, SandboxEvent, SandboxExit } from "./sandbox.ts";

/** What a slot needs of its host (`SandboxHost`). */
export interface SlotHost {
  readonly kind: SandboxKind;
  readonly pid: number;
  readonly state: string;
  /** Writes one message to a slot. */
  send(slot: number, message: ServerMessage): void;
  /** The slot's execution is over; a program still running is stopped. */
  finished(slot: Slot): void;
}

/** One execution's slot on a host (a session's: its programs', one after another). */
export class Slot implements Sandbox {
  readonly id: number;
  readonly runs: number;
  readonly released: Promise<void>;
  /** The program's end message arrived. */
  ended = false;
  /** What the program holds, as its worker last reported. */
  memoryBytes = 0;
  /** A worker took the program. */
  started = false;
  #host: SlotHost;
  #listener: ((event: SandboxEvent) => void) | undefined;
  #backlog: SandboxEvent[] = [];
  #finished = false;
  #release = Promise.withResolvers<void>();

  constructor(host: SlotHost, id: number, runs: number) {
    this.#host = host;
    this.id = id;
    this.runs = runs;
    this.released = this.#release.promise;
  }

  /** Its execution still waits on its program: the host's end would reach it. */
  get running(): boolean {
    return !this.#finished && !this.ended;
  }

  get kind(): SandboxKind {
    return this.#host.kind;
  }

  get pid(): number {
    return this.#host.pid;
  }

  listen(listener: (event: SandboxEvent) => void): void {
    this.#listener = listener;
    for (const event of this.#backlog.splice(0)) listener(event);
  }

  send(message: ServerMessage): void {
    if (this.#finished || this.ended) return;
    this.#host.send(this.id, message);
  }

  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#listener = undefined;
    this.#backlog = [];
    this.#host.finished(this);
  }

  keep(): boolean {
    if (this.#finished || !this.ended || this.#host.state === "dead") return false;
    this.ended = false;
    this.#listener = undefined;
    this.#backlog = [];
    return true;
  }

  startedIn(_number: number): void {
    this.started = true;
    this.emit({ type: "started" });
  }

  evict(error: string): void {
    this.emit({ type: "out_of_memory", error });
  }

  /** A message of the program. */
  program(message: ReceivedMessage): void {
    if (isEndMessage(message)) this.ended = true;
    this.emit(message);
  }

  emit(event: SandboxEvent): void {
    if (this.#finished) return;
    if (this.#listener) this.#listener(event);
    else this.#backlog.push(event);
  }

  /** The host process is gone. */
  gone(exit: SandboxExit): void {
    this.emit(exit);
    this.#release.resolve();
  }

  /** The slot is free again (or never will be, and no longer this execution's concern). */
  release(): void {
    this.#release.resolve();
  }
}
