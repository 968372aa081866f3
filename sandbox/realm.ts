/**
 * Lock-down of the worker realm where a program runs, shared by every sandbox kind. Its
 * functions are serialised with `Function.prototype.toString` into the worker's blob source,
 * next to the worker's own entry point, so they must use nothing from this module's scope.
 *
 * Runs in the untrusted sandbox host, in the program's realm. The process is shared with the
 * host's other programs: what the process holds for all its realms (stdio, the blob store,
 * broadcast channels, Web Locks, signals to itself) is closed or made the realm's own here.
 * Imports nothing but the other sandbox files.
 *
 * @module
 */
import { openChannel, runtimeTimers } from "./channel.ts";
import { pendingCalls } from "./pending_calls.ts";
import { clipText, jsonLength, splitText, utf8Length } from "./text.ts";
import { captureStdio } from "./realm_stdio.ts";
import { realmObjectUrls } from "./realm_object_urls.ts";
import { realmMemory } from "./realm_memory.ts";
import { closeEscapes } from "./realm_escapes.ts";

export type { RealmHooks } from "./realm_stdio.ts";

/** The lock-down functions and the channel, as the worker receives them. */
const REALM = {
  captureStdio,
  closeEscapes,
  realmObjectUrls,
  realmMemory,
  openChannel,
  runtimeTimers,
  jsonLength,
  splitText,
  clipText,
  utf8Length,
  pendingCalls,
};

/** The type of what a worker's entry point gets as its realm. */
export type Realm = typeof REALM;

/** Functions that go into a worker's source as their text: each uses only globals and its arguments. */
// deno-lint-ignore no-explicit-any
export type Kit = Record<string, (...args: any[]) => unknown>;

/**
 * The blob source of a worker: its entry point called with the lock-down functions and, for a
 * kind that needs more, its kit (functions of globals only, serialised the same way).
 *
 * @example
 * ```ts
 * import { workerSource } from "./realm.ts";
 * const source = workerSource(function main(realm) { void realm; });
 * console.assert(source.startsWith("(function main"));
 * ```
 */
export function workerSource<K extends Kit>(
  main: (realm: Realm, kit: K) => void,
  kit?: K,
): string {
  return `(${main})(${kitSource(REALM)}, ${kit ? kitSource(kit) : "undefined"});`;
}

/** An object of functions as source: `({ name: function … })`. */
function kitSource(kit: Kit): string {
  const entries = Object.entries(kit).map(([name, fn]) => `${name}: ${fn}`);
  return `({ ${entries.join(", ")} })`;
}
