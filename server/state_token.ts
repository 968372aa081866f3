/**
 * The step API's opaque state: a versioned, compressed, signed token.
 *
 * Format: `p2.<payload>.<signature>`, where `payload` is base64url(deflate-raw(JSON)) and
 * `signature` is base64url(HMAC-SHA256(key, "p2." + payload)). (`p1` tokens, which recorded
 * calls by position, are refused as `malformed`.) A session's state (`session_state.ts`) is
 * sealed the same way under its own kind, `s1`: the kind is signed with the payload, so a token
 * of one kind is never accepted as the other.
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
import { HttpProblem } from "./problem.ts";
import {
  historyJson,
  HistorySchema,
  SESSION_STATE_KIND,
  type SessionState,
  SessionStateSchema,
} from "./session_state.ts";
import { RecordSchema, recordsJson, spliceJson } from "./step_record.ts";

export type { StepRecord } from "./step_record.ts";

const VERSION = "p2";
const encoder = new TextEncoder();

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
  /** The program is one of a session's: the session, with the programs it ran before this one. */
  ses: HistorySchema.optional(),
});

/** The state of a paused step execution. */
export type StepState = z.infer<typeof StateSchema>;

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
 * The problem a refused token is answered with: `state_<reason>`, 413 for `too_large`.
 *
 * @example
 * ```ts
 * import { StateTokenError, stateProblem } from "./state_token.ts";
 * console.assert(stateProblem(new StateTokenError("expired", "old")).code === "state_expired");
 * ```
 */
export function stateProblem(error: StateTokenError): HttpProblem {
  const status = error.reason === "too_large" ? 413 : 400;
  return new HttpProblem(status, `state_${error.reason}`, error.message);
}

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
  encode(state: StepState, maxStateBytes: number): Promise<Encoded> {
    return this.seal(VERSION, stateJson(state), maxStateBytes);
  }

  /** Verifies and decodes a token; throws {@linkcode StateTokenError} when it is refused. */
  async decode(token: string, limits: DecodeLimits): Promise<StepState> {
    const state = StateSchema.safeParse(await this.open(VERSION, token, limits));
    if (!state.success) throw new StateTokenError("malformed", "the payload does not decode");
    return checkAge(state.data, limits);
  }

  /** Encodes and signs a session state of at most `maxStateBytes` of JSON. */
  encodeSession(state: SessionState, maxStateBytes: number): Promise<Encoded> {
    return this.seal(SESSION_STATE_KIND, historyJson(state), maxStateBytes);
  }

  /** Verifies and decodes a session state; throws {@linkcode StateTokenError} when refused. */
  async decodeSession(token: string, limits: DecodeLimits): Promise<SessionState> {
    const state = SessionStateSchema.safeParse(
      await this.open(SESSION_STATE_KIND, token, limits),
    );
    if (!state.success) throw new StateTokenError("malformed", "the payload does not decode");
    return checkAge(state.data, limits);
  }

  /**
   * Signs and compresses `json` (at most `maxStateBytes` in UTF-8) as a token of `kind`
   * (`p2`: a step state; `s1`: a session state).
   */
  async seal(kind: string, json: string, maxStateBytes: number): Promise<Encoded> {
    const bytes = encoder.encode(json);
    if (bytes.byteLength > maxStateBytes) return { tooLarge: bytes.byteLength };
    // Level 1: a 4 MiB state deflates in ~10 ms of the event loop (level 6 takes ~40 ms).
    const compressed = deflateRawSync(bytes, { level: 1 });
    const signed = `${kind}.${
      new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength)
        .toBase64({ alphabet: "base64url", omitPadding: true })
    }`;
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, encoder.encode(signed)));
    return { token: `${signed}.${mac.toBase64({ alphabet: "base64url", omitPadding: true })}` };
  }

  /**
   * Verifies a token of `kind` and returns its payload's JSON value (not yet checked against a
   * schema, nor for its age); throws {@linkcode StateTokenError} when it is refused.
   */
  async open(kind: string, token: string, limits: DecodeLimits): Promise<unknown> {
    const maxLength = maxTokenLength(limits.maxStateBytes);
    if (token.length > maxLength) {
      throw new StateTokenError("too_large", `over ${maxLength} bytes`);
    }
    const parts = token.split(".");
    if (parts.length !== 3 || parts[0] !== kind) {
      throw new StateTokenError(
        "malformed",
        `not a progtc ${KINDS[kind] ?? kind} of a known version`,
      );
    }
    let payload: Uint8Array;
    let mac: Uint8Array;
    try {
      payload = Uint8Array.fromBase64(parts[1]!, { alphabet: "base64url" });
      mac = Uint8Array.fromBase64(parts[2]!, { alphabet: "base64url" });
    } catch {
      throw new StateTokenError("malformed", "not base64url");
    }
    const signed = encoder.encode(`${kind}.${parts[1]}`);
    if (!await crypto.subtle.verify("HMAC", this.#key, mac as BufferSource, signed)) {
      throw new StateTokenError("signature", "it was not issued by a server with this key");
    }
    try {
      // zlib stops at the cap: a small token of zeros never becomes gigabytes.
      const json = inflateRawSync(payload, { maxOutputLength: limits.maxStateBytes });
      return JSON.parse(new TextDecoder().decode(json));
    } catch {
      throw new StateTokenError("malformed", "the payload does not decode");
    }
  }
}

/** What each kind of token is called in a refusal. */
const KINDS: Record<string, string> = { p2: "state token", s1: "session state" };

/** `state`, unless it was issued more than `maxAgeMs` ago. */
function checkAge<T extends { iat: number }>(state: T, limits: DecodeLimits): T {
  if (Date.now() - state.iat > limits.maxAgeMs) {
    throw new StateTokenError("expired", `older than ${Math.round(limits.maxAgeMs / 1000)} s`);
  }
  return state;
}

/** The JSON of a state; a record's result may be a `JsonText`, spliced in as is. */
function stateJson(state: StepState): string {
  const { ses } = state;
  return spliceJson(state, {
    records: () => recordsJson(state.records),
    ...(ses ? { ses: () => historyJson(ses) } : {}),
  });
}
