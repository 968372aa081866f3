/**
 * API key checks: `X-Progtc-API-Key: <key>` (the reference's header) or
 * `Authorization: Bearer <key>`, compared in constant time.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Digest of a key; comparing digests hides the key's length and content from timing. */
export function keyDigest(key: string): Uint8Array {
  return createHash("sha256").update(key).digest();
}

/** The key a request presents, if any. */
export function presentedKey(headers: Headers): string | undefined {
  const header = headers.get("x-progtc-api-key");
  if (header !== null) return header;
  const authorization = headers.get("authorization");
  const match = authorization?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}

/**
 * Checks the API key of requests against one expected key. Synchronous (a tool result's POST
 * is on the hot path of every tool call).
 *
 * @example
 * ```ts
 * import { KeyCheck } from "./auth.ts";
 * const check = new KeyCheck("secret");
 * console.assert(check.allows(new Headers({ authorization: "Bearer secret" })));
 * console.assert(!check.allows(new Headers({ "x-progtc-api-key": "guess" })));
 * ```
 */
export class KeyCheck {
  #expected: Uint8Array;

  constructor(key: string) {
    this.#expected = keyDigest(key);
  }

  /** Whether `headers` carry the expected key. */
  allows(headers: Headers): boolean {
    const key = presentedKey(headers);
    return key !== undefined && timingSafeEqual(keyDigest(key), this.#expected);
  }
}
