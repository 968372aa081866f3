/**
 * The step API's opaque state: a versioned, compressed, signed token.
 *
 * Format: `p2.<payload>.<signature>`, where `payload` is base64url(deflate-raw(JSON)) and
 * `signature` is base64url(HMAC-SHA256(key, "p2." + payload)). (`p1` tokens, which recorded
 * calls by position, are refused as `malformed`.)
 *
 * Invariants:
 * - Verification fails closed, in this order, with a fixed reason: `too_large` (before any
 *   work), `malformed` (shape, version, base64), `signature` (HMAC, compared by WebCrypto in
 *   constant time), then `malformed` again for a signed payload that does not decompress or
 *   parse (only a server holding the key could have made it), then `expired`.
 * - Nothing in a token is trusted before its signature is checked, and a signed payload is
 *   decompressed with a cap, so a token cannot make the server allocate without bound.
 * - Servers that share the key accept each other's tokens; the key defaults to one derived
 *   from the API key.
 *
 * @module
 */
import { z } from "zod";

const VERSION = "p2";
const encoder = new TextEncoder();

/** One answered tool call: the hash of the call, and its result or the error its tool raised. */
const RecordSchema = z.union([
  z.object({ h: z.string(), r: z.unknown() }),
  z.object({ h: z.string(), e: z.string() }),
]);

/** What a token carries. */
const StateSchema = z.object({
  /**
   * Hash of the program (language, code, tool names, modules) the state was issued for. Only
   * a held execution of the same program is resumed warm; any program may replay the state.
   */
  program: z.string(),
  /** How replayed calls are checked; fixed by the first step. */
  determinism: z.enum(["strict", "order_only"]),
  /** Answered calls, by call key (`0.1#0`). */
  records: z.record(z.string(), RecordSchema),
  /** The calls of the last batch (key and hash), in the order sent to the client. */
  pending: z.array(z.object({ k: z.string(), h: z.string() })),
  /** The execution this state continues (the same for all its steps). */
  session: z.string(),
  /** The paused execution this state was issued for: a server holding it resumes it warm. */
  hold: z.string(),
  /** Steps taken so far. */
  step: z.number().int().nonnegative(),
  /** Issued at, ms since the epoch. */
  iat: z.number(),
});

/** The state of a paused step execution. */
export type StepState = z.infer<typeof StateSchema>;

/** One answered call in a {@linkcode StepState}. */
export type StepRecord = z.infer<typeof RecordSchema>;

/** Why a token was refused. */
export type StateErrorReason = "malformed" | "signature" | "expired" | "too_large";

/** A token was refused; `reason` is one of a fixed set. */
export class StateTokenError extends Error {
  readonly reason: StateErrorReason;

  constructor(reason: StateErrorReason, detail: string) {
    super(`Cannot resume execution: state token is ${reason.replace("_", " ")}: ${detail}`);
    this.name = "StateTokenError";
    this.reason = reason;
  }
}

/** Limits of {@linkcode StateCodec.decode}. */
export interface DecodeLimits {
  /** Longest token accepted, in characters. */
  maxBytes: number;
  /** Oldest token accepted, in ms. */
  maxAgeMs: number;
}

/** Signs, compresses, verifies and decodes state tokens with one key. */
export class StateCodec {
  #key: CryptoKey;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /**
   * A codec whose key is derived from `secret` (the `--state-secret`, or the API key).
   *
   * @example
   * ```ts
   * import { StateCodec } from "./state_token.ts";
   * const codec = await StateCodec.create("secret");
   * const state = { program: "p", determinism: "strict" as const, records: {}, pending: [],
   *   session: "s", hold: "h", step: 0, iat: Date.now() };
   * const token = await codec.encode(state);
   * const back = await codec.decode(token, { maxBytes: 1e6, maxAgeMs: 60_000 });
   * console.assert(back.session === "s");
   * ```
   */
  static async create(secret: string): Promise<StateCodec> {
    const base = await crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    // A separate key for tokens, so that a token never doubles as anything keyed by the secret.
    const derived = await crypto.subtle.sign("HMAC", base, encoder.encode("progtc state token v1"));
    const key = await crypto.subtle.importKey(
      "raw",
      derived,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return new StateCodec(key);
  }

  /** Encodes and signs a state. */
  async encode(state: StepState): Promise<string> {
    const compressed = await transform(
      encoder.encode(JSON.stringify(state)),
      new CompressionStream("deflate-raw"),
    );
    const signed = `${VERSION}.${
      compressed.toBase64({ alphabet: "base64url", omitPadding: true })
    }`;
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, encoder.encode(signed)));
    return `${signed}.${mac.toBase64({ alphabet: "base64url", omitPadding: true })}`;
  }

  /** Verifies and decodes a token; throws {@linkcode StateTokenError} when it is refused. */
  async decode(token: string, limits: DecodeLimits): Promise<StepState> {
    if (token.length > limits.maxBytes) {
      throw new StateTokenError("too_large", `over ${limits.maxBytes} bytes`);
    }
    const parts = token.split(".");
    if (parts.length !== 3 || parts[0] !== VERSION) {
      throw new StateTokenError("malformed", "not a progtc state token of a known version");
    }
    let payload: Uint8Array;
    let mac: Uint8Array;
    try {
      payload = Uint8Array.fromBase64(parts[1]!, { alphabet: "base64url" });
      mac = Uint8Array.fromBase64(parts[2]!, { alphabet: "base64url" });
    } catch {
      throw new StateTokenError("malformed", "not base64url");
    }
    const signed = encoder.encode(`${VERSION}.${parts[1]}`);
    if (!await crypto.subtle.verify("HMAC", this.#key, mac as BufferSource, signed)) {
      throw new StateTokenError("signature", "it was not issued by a server with this key");
    }
    let state: StepState;
    try {
      const json = await transform(
        payload,
        new DecompressionStream("deflate-raw"),
        limits.maxBytes * 64,
      );
      state = StateSchema.parse(JSON.parse(new TextDecoder().decode(json)));
    } catch {
      throw new StateTokenError("malformed", "the payload does not decode");
    }
    if (Date.now() - state.iat > limits.maxAgeMs) {
      throw new StateTokenError("expired", `older than ${Math.round(limits.maxAgeMs / 1000)} s`);
    }
    return state;
  }
}

async function transform(
  bytes: Uint8Array,
  stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<BufferSource> },
  maxOutput = Infinity,
): Promise<Uint8Array> {
  const output = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of output) {
    size += chunk.byteLength;
    if (size > maxOutput) throw new RangeError("Decompressed state is too large");
    chunks.push(chunk);
  }
  const result = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return result;
}
