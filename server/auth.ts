/**
 * API key checks: `X-Progtc-API-Key: <key>` (the reference's header) or
 * `Authorization: Bearer <key>`, compared in constant time.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Digest of a key; comparing digests hides the key's length and content timing. */
export async function keyDigest(key: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(key)));
}

/** The key a request presents, if any. */
export function presentedKey(headers: Headers): string | undefined {
  const header = headers.get("x-progtc-api-key");
  if (header !== null) return header;
  const authorization = headers.get("authorization");
  const match = authorization?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}

/** Constant-time comparison of two equal-length byte arrays. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Whether `headers` carry the key whose digest is `expected`. */
export async function isAuthorized(headers: Headers, expected: Uint8Array): Promise<boolean> {
  const key = presentedKey(headers);
  if (key === undefined) return false;
  return timingSafeEqual(await keyDigest(key), expected);
}
