// deno-lint-ignore-file no-explicit-any
/**
 * The realm's own blob URLs: the process's blob store is shared by its realms, so a realm sees
 * and resolves only the URLs it made.
 *
 * Runs in the untrusted sandbox host, in the program's realm; serialised with
 * `Function.prototype.toString` into the worker's source (see `./realm.ts`), so it uses nothing
 * from its module's scope. Imports nothing.
 *
 * @module
 */
/**
 * Makes blob URLs the realm's own: `URL.createObjectURL` keeps the blob in this realm and
 * `fetch` of a `blob:` URL resolves only those. The process's blob store is shared by every
 * worker of the host: a URL registered there could be resolved by a program running beside
 * this one, and would outlive this one.
 */
export function realmObjectUrls(): void {
  const scope = globalThis as any;
  const blobs = new Map<string, Blob>();
  const nativeFetch = scope.fetch;
  // Reading `Response` loads the fetch modules (1.5 ms in a fresh realm): read when needed.
  const response = Object.getOwnPropertyDescriptor(scope, "Response");
  const NativeResponse = () => response?.get ? response.get.call(scope) : response?.value;
  const BlobClass = scope.Blob;
  const uuid = crypto.randomUUID.bind(crypto);
  Object.defineProperty(URL, "createObjectURL", {
    value: function createObjectURL(object: Blob) {
      if (!(object instanceof BlobClass)) {
        throw new TypeError("URL.createObjectURL: the argument is not a Blob");
      }
      const url = `blob:null/${uuid()}`;
      blobs.set(url, object);
      return url;
    },
    configurable: true,
    writable: true,
  });
  Object.defineProperty(URL, "revokeObjectURL", {
    value: function revokeObjectURL(url: string) {
      blobs.delete(String(url));
    },
    configurable: true,
    writable: true,
  });
  Object.defineProperty(scope, "fetch", {
    value: function fetch(input: any, init?: any) {
      const url = typeof input === "string"
        ? input
        : input instanceof URL
        ? input.href
        : typeof input?.url === "string"
        ? input.url
        : String(input);
      if (!url.startsWith("blob:")) return nativeFetch(input, init);
      const blob = blobs.get(url);
      return blob
        ? Promise.resolve(new (NativeResponse())(blob))
        : Promise.reject(new TypeError(`fetch: no blob at ${url}`));
    },
    configurable: true,
    writable: true,
  });
}
