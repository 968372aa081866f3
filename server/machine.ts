/**
 * What the server knows of the machine it starts on: the facts that some options' defaults
 * derive from (the memory budget from the memory available, the connection cap from the file
 * descriptor limit, the sandboxes' Deno from this one). Each is read when a default needs it.
 *
 * @module
 */
import { availableMemory } from "../runner/available_memory.ts";

/** The facts defaults may derive from. */
export interface Machine {
  /** Memory this process can count on at start (the host's, or its cgroup's), in bytes. */
  availableMemoryBytes(): number;
  /** File descriptors this process may open (`ulimit -n`). */
  maxOpenFiles(): number;
  /** Logical cores. */
  cores(): number;
  /** The Deno binary this process runs on. */
  denoPath(): string;
}

/** This machine. */
export const thisMachine: Machine = {
  availableMemoryBytes: () => availableMemory(),
  maxOpenFiles,
  cores: () => navigator.hardwareConcurrency || 1,
  denoPath: () => Deno.execPath(),
};

function maxOpenFiles(): number {
  try {
    const match = Deno.readTextFileSync("/proc/self/limits").match(/^Max open files\s+(\d+)/m);
    if (match) return Number(match[1]);
  } catch {
    // Not Linux, or no read access: assume the common default.
  }
  return 1024;
}
