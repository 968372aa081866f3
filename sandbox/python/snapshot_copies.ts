/**
 * The copies of a Python host's snapshot that its workers restore from. Each worker gets one
 * copy of its own, handed over (transferred), and gives the buffer back once restored, before
 * its program runs; the host refills a given-back buffer from its own snapshot when the next
 * worker starts. A fresh 15 MiB copy cost the host's thread ~30 ms of CPU per worker, most of
 * it faulting its pages in (4,000–4,500 page faults per copy, measured); a refilled one is
 * resident.
 *
 * Invariants:
 * - A worker gets the host's snapshot, byte for byte, whatever was given back: every byte of
 *   a buffer is written just before it is handed over, with nothing in between.
 * - What a program may post on its global scope is taken like a given-back buffer: only a
 *   non-shared, fixed-length `ArrayBuffer` of the snapshot's length is kept, which the sender
 *   no longer holds (transferred) or never held (a copy), and at most `keep` of them; any other
 *   `ArrayBuffer` is freed at once.
 *
 * Runs in the untrusted sandbox host, in its main realm. Imports nothing.
 *
 * @module
 */

/** Hands out copies of `snapshot` and takes their buffers back. */
export interface SnapshotCopies {
  /** A copy of the snapshot, in a buffer of its own, to transfer to one worker. */
  take(): Uint8Array<ArrayBuffer>;
  /** A worker's message: kept if it is a buffer given back (see the module's invariants). */
  giveBack(message: unknown): void;
}

/** What a worker posts to give its copy back. */
export interface SnapshotCopyMessage {
  type: "snapshot-copy";
  buffer: ArrayBuffer;
}

/**
 * Copies of `snapshot`, keeping up to `keep` given-back buffers for the next ones.
 *
 * @example
 * ```ts
 * import { snapshotCopies } from "./snapshot_copies.ts";
 * const copies = snapshotCopies(new Uint8Array([1, 2, 3]), 1);
 * const first = copies.take();
 * first[0] = 9;
 * copies.giveBack({ type: "snapshot-copy", buffer: first.buffer });
 * const second = copies.take();
 * console.assert(second.buffer === first.buffer && second[0] === 1);
 * ```
 */
export function snapshotCopies(snapshot: Uint8Array, keep: number): SnapshotCopies {
  const free: ArrayBuffer[] = [];
  return {
    take() {
      const buffer = free.pop();
      if (buffer === undefined) return snapshot.slice();
      const copy = new Uint8Array(buffer);
      copy.set(snapshot);
      return copy;
    },
    giveBack(message) {
      if ((message as SnapshotCopyMessage | undefined)?.type !== "snapshot-copy") return;
      const buffer = (message as SnapshotCopyMessage).buffer;
      if (!(buffer instanceof ArrayBuffer)) return;
      if (!buffer.resizable && buffer.byteLength === snapshot.byteLength && free.length < keep) {
        free.push(buffer);
      } else {
        // Freed now, not at this realm's next collection (it makes little garbage: many
        // buffers could wait for one).
        buffer.transfer(0);
      }
    },
  };
}
