/**
 * The step API's opaque state: a versioned, compressed, signed token.
 *
 * Format: `p2.<payload>.<signature>`, where `payload` is base64url(deflate-raw(JSON)) and
 * `signature` is base64url(HMAC-SHA256(key, "p2." + payload)). (`p1` tokens, which recorded
 * calls by position, are refused as `malformed`.)
 *
 * Invariants:
 * - A state is at most `maxStateBytes` of JSON: {@linkcode StateCodec.encode} refuses a larger
 *   one, and {@linkcode StateCodec.decode} refuses a token longer than the longest such a state
 *   can make ({@linkcode maxTokenLength}), before any work.
 * - Verification fails closed, in this order, with a fixed reason: `too_large`, `malformed`
 *   (shape, version, base64), `signature` (HMAC, compared by WebCrypto in constant time), then
 *   `malformed` again for a signed payload that does not inflate within `maxStateBytes` or
 *   parse (only a holder of the key could have made it), then `expired`.
 * - Nothing in a token is trusted before its signature is checked, and a signed payload
 *   inflates into at most `maxStateBytes` (zlib stops there), so every token the server accepts
 *   is one it could have issued, and costs what issuing it did: a few tens of milliseconds.
 * - Whoever holds the key can mint tokens. It defaults to one derived from the API key, so
 *   every client can; a token only replays a program (the client's own code and answers) or
 *   resumes a paused execution whose random session and hold ids it names.
 *
 * @module
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { z } from "zod";
import { jsonTextOf } from "../runner/host_messages.ts";

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
  /** Largest state, in bytes of JSON (UTF-8). */
  maxStateBytes: number;
  /** Oldest token accepted, in ms. */
  maxAgeMs: number;
}

/** What {@linkcode StateCodec.encode} made: a token, or the size of a state over the limit. */
export type Encoded = { token: string } | { tooLarge: number };

/**
 * The longest token a state of `maxStateBytes` can make: raw deflate adds at most 5 bytes per
 * stored block of up to 16 KiB (and a few more at the end), base64url 4 characters per 3 bytes.
 *
 * @example
 * ```ts
 * import { maxTokenLength } from "./state_token.ts";
 * console.assert(maxTokenLength(4 * 1024 * 1024) < 5.7 * 1024 * 1024);
 * ```
 */
export function maxTokenLength(maxStateBytes: number): number {
  const deflated = maxStateBytes + 5 * Math.ceil(maxStateBytes / 16_384) + 64;
  return VERSION.length + 2 + Math.ceil((deflated * 4) / 3) + 43;
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
   * const encoded = await codec.encode(state, 1e6);
   * if (!("token" in encoded)) throw new Error("too large");
   * const back = await codec.decode(encoded.token, { maxStateBytes: 1e6, maxAgeMs: 60_000 });
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

  /** Encodes and signs a state of at most `maxStateBytes` of JSON. */
  async encode(state: StepState, maxStateBytes: number): Promise<Encoded> {
    const json = encoder.encode(stateJson(state));
    if (json.byteLength > maxStateBytes) return { tooLarge: json.byteLength };
    // Level 1: a 4 MiB state deflates in ~10 ms of the event loop (level 6 takes ~40 ms).
    const compressed = deflateRawSync(json, { level: 1 });
    const signed = `${VERSION}.${
      new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength)
        .toBase64({ alphabet: "base64url", omitPadding: true })
    }`;
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, encoder.encode(signed)));
    return { token: `${signed}.${mac.toBase64({ alphabet: "base64url", omitPadding: true })}` };
  }

  /** Verifies and decodes a token; throws {@linkcode StateTokenError} when it is refused. */
  async decode(token: string, limits: DecodeLimits): Promise<StepState> {
    const maxLength = maxTokenLength(limits.maxStateBytes);
    if (token.length > maxLength) {
      throw new StateTokenError("too_large", `over ${maxLength} bytes`);
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
      // zlib stops at the cap: a small token of zeros never becomes gigabytes.
      const json = inflateRawSync(payload, { maxOutputLength: limits.maxStateBytes });
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

/** The JSON of a state; a record's result may be a {@linkcode JsonText}, spliced in as is. */
function stateJson(state: StepState): string {
  const records = Object.entries(state.records).map(([key, record]) => {
    const answer = "e" in record
      ? `"e":${JSON.stringify(record.e)}`
      : `"r":${jsonTextOf(record.r)}`;
    return `${JSON.stringify(key)}:{"h":${JSON.stringify(record.h)},${answer}}`;
  });
  const rest = JSON.stringify({ ...state, records: 0 });
  return rest.replace(`"records":0`, () => `"records":{${records.join(",")}}`);
}
