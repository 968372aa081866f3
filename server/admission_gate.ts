/**
 * The seam between admission and the services that run executions: the
 * {@linkcode AdmissionGate} they ask (`Admission`; a fake in unit tests), and the
 * {@linkcode Lease} of an admitted execution.
 *
 * @module
 */
import type { Context } from "@opentelemetry/api";
import type { Language } from "../protocol.ts";
import type { Sandbox } from "../runner/sandbox.ts";

/** An admitted execution's hold: its sandbox, its execution slot, its share of memory. */
export interface Lease extends Disposable {
  sandbox: Sandbox;
  /** Gives the execution slot back (the memory comes back when the sandbox is released). */
  release(): void;
  /** The memory it was charged, in bytes. */
  memoryBytes: number;
}

/** Frees memory held by what can give it back; returns the bytes it will release. */
export type Reclaim = (bytes: number) => number;

/** What the services that run executions ask of admission (`Admission`; a fake in unit tests). */
export interface AdmissionGate {
  /** Admits an execution of `language`: a slot, memory, a sandbox; or throws a problem. */
  admit(language: Language, parent?: Context): Promise<Lease>;
  /** Only an execution slot (a paused step execution resuming on its own sandbox), or throws. */
  slot(): Promise<() => void>;
  /** Something that can give memory back when it is short (paused step executions). */
  onReclaim(reclaim: Reclaim): void;
}
