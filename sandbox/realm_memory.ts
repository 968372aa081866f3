// deno-lint-ignore-file no-explicit-any
/**
 * What a realm holds, measured for its worker's memory reports (the V8 heap, wasm memories and
 * blobs made in it).
 *
 * Runs in the untrusted sandbox host, in the program's realm; serialised with
 * `Function.prototype.toString` into the worker's source (see `./realm.ts`), so it uses nothing
 * from its module's scope. Imports nothing.
 *
 * @module
 */
/**
 * Measures what the realm holds, for its worker's memory reports: the V8 heap and what the
 * isolate counts outside it (ArrayBuffers), every wasm memory made in the realm from now on
 * (`new WebAssembly.Memory`, or exported by an instance), which V8 does not count, and every
 * Blob and File made with their constructors (their bytes are in the process's blob store). Run
 * it before anything makes a memory. What the realm's own APIs make (a `Response`'s blob, a
 * memory a wasm module keeps to itself) is not seen: the host's cgroup holds that. The native getters are captured: a program that replaces
 * them changes what it reads, not what is reported.
 */
export function realmMemory(): () => number {
  const W = WebAssembly as any;
  const usage: () => { heapUsed: number; external: number } = Deno.memoryUsage;
  const NativeMemory = W.Memory;
  const bufferOf = Object.getOwnPropertyDescriptor(NativeMemory.prototype, "buffer")!.get!;
  const lengthOf = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
  const sharedLengthOf = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength")!
    .get!;
  const memories: WeakRef<object>[] = [];
  const track = (value: unknown) => {
    if (value instanceof NativeMemory) memories.push(new WeakRef(value as object));
    return value;
  };
  // Blobs keep their bytes in the process's blob store, outside the isolate's count.
  const scope = globalThis as any;
  const sizeOf = Object.getOwnPropertyDescriptor(scope.Blob.prototype, "size")!.get!;
  const blobs: WeakRef<object>[] = [];
  for (const name of ["Blob", "File"]) {
    Object.defineProperty(scope, name, {
      value: new Proxy(scope[name], {
        construct(target, args, newTarget) {
          const blob = Reflect.construct(target, args, newTarget);
          blobs.push(new WeakRef(blob));
          return blob;
        },
      }),
      configurable: true,
      writable: true,
    });
  }
  const live = (refs: WeakRef<object>[], size: (value: object) => number) => {
    let bytes = 0;
    for (let i = refs.length - 1; i >= 0; i--) {
      const value = refs[i]!.deref();
      if (value === undefined) refs.splice(i, 1);
      else bytes += size(value);
    }
    return bytes;
  };
  const trackExports = (instance: any) => {
    for (const value of Object.values(instance?.exports ?? {})) track(value);
  };
  const define = (name: string, value: unknown) =>
    Object.defineProperty(W, name, { value, configurable: true, writable: true });
  define(
    "Memory",
    new Proxy(NativeMemory, {
      construct: (target, args, newTarget) =>
        track(Reflect.construct(target, args, newTarget)) as object,
    }),
  );
  define(
    "Instance",
    new Proxy(W.Instance, {
      construct(target, args, newTarget) {
        const instance = Reflect.construct(target, args, newTarget);
        trackExports(instance);
        return instance;
      },
    }),
  );
  for (const name of ["instantiate", "instantiateStreaming"]) {
    const native = W[name];
    if (typeof native !== "function") continue;
    define(name, function (this: unknown, ...args: unknown[]) {
      return native.apply(W, args).then((result: any) => {
        trackExports(result?.instance ?? result);
        return result;
      });
    });
  }
  const memoryBytes = (memory: object) => {
    const buffer = bufferOf.call(memory);
    return buffer instanceof ArrayBuffer ? lengthOf.call(buffer) : sharedLengthOf.call(buffer);
  };
  return () => {
    const { heapUsed, external } = usage();
    return heapUsed + external + live(memories, memoryBytes) + live(blobs, (b) => sizeOf.call(b));
  };
}
