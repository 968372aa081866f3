/**
 * An attacker's tools for state tokens, written from the token format (PROTOCOL.md) and not
 * from the server's code: anyone who holds the key (or the state secret) can mint one. Used by
 * the state-token tests and the benchmark's stall section.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * A token signed like the server's (`<kind>.<payload>.<mac>`: `p2` a step state, `s1` a session
 * state), around any raw-deflate `payload`.
 */
export async function mint(secret: string, payload: Uint8Array, kind = "p2"): Promise<string> {
  const importKey = (raw: BufferSource) =>
    crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const hmac = (key: CryptoKey, data: Uint8Array) =>
    crypto.subtle.sign("HMAC", key, data as BufferSource);
  const base = await importKey(encoder.encode(secret));
  const key = await importKey(await hmac(base, encoder.encode("progtc state token v1")));
  const signed = `${kind}.${payload.toBase64({ alphabet: "base64url", omitPadding: true })}`;
  const mac = new Uint8Array(await hmac(key, encoder.encode(signed)));
  return `${signed}.${mac.toBase64({ alphabet: "base64url", omitPadding: true })}`;
}

/** Raw deflate of `size` zero bytes, compressed a MiB at a time (never all held at once). */
export async function deflatedZeros(size: number): Promise<Uint8Array> {
  const piece = new Uint8Array(2 ** 20);
  let left = size;
  const source = new ReadableStream<BufferSource>({
    pull(controller) {
      if (left <= 0) return controller.close();
      controller.enqueue(piece.subarray(0, Math.min(left, piece.length)));
      left -= piece.length;
    },
  });
  const compressed = source.pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(compressed).arrayBuffer());
}
