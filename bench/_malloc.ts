/**
 * glibc malloc statistics of the current process, for the memory-growth diagnosis: how much
 * of the process's anonymous memory malloc holds, how much of that is in use, and what
 * `malloc_trim(0)` gives back. Needs `--allow-ffi`; only the diagnostic helper processes load it.
 *
 * @module
 */

/** `mallinfo2()` of glibc, in bytes. */
export interface MallocInfo {
  /** Bytes obtained from the system for the heap arenas (brk and arena mmaps). */
  arena: number;
  /** Bytes in chunks mmapped on their own (large allocations). */
  mmapped: number;
  /** Bytes allocated and not freed. */
  inUse: number;
  /** Bytes freed but kept by malloc in its arenas. */
  free: number;
}

type Libc = {
  symbols: {
    mallinfo2(): Uint8Array;
    malloc_trim(pad: number | bigint): number;
  };
};

let libc: Libc | undefined;

function open(): Libc {
  libc ??= Deno.dlopen("libc.so.6", {
    mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
    malloc_trim: { parameters: ["usize"], result: "i32" },
  }) as unknown as Libc;
  return libc;
}

/** The current `mallinfo2()`, or undefined when FFI or glibc is not available. */
export function mallocInfo(): MallocInfo | undefined {
  try {
    const bytes = open().symbols.mallinfo2();
    const f = new BigUint64Array(bytes.buffer, bytes.byteOffset, 10);
    return {
      arena: Number(f[0]),
      mmapped: Number(f[4]),
      inUse: Number(f[7]),
      free: Number(f[8]),
    };
  } catch {
    return undefined;
  }
}

/** Runs `malloc_trim(0)` (gives every free page back); false when it cannot. */
export function mallocTrim(): boolean {
  try {
    open().symbols.malloc_trim(0);
    return true;
  } catch {
    return false;
  }
}
