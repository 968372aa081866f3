/**
 * A session's state on the step API: what any instance that holds the key needs to rebuild the
 * session, carried by the client as a signed token (`s1.<payload>.<signature>`, sealed like a
 * step state by `StateCodec.encodeSession`, under its own kind).
 *
 * The state is the session's history: its id, its language, and for each program that ended in
 * it, what a step replay needs: its code, tool names, modules, determinism mode and its answered
 * calls by key. Replaying those programs in order, with their calls answered from the records,
 * gives a realm with what they defined (`session_rebuild.ts`). It also names the realm the
 * issuing instance keeps at exactly this history (`live`, random per token), so that instance
 * continues in it instead of rebuilding; a fork (the same token twice) rebuilds the second time.
 *
 * @module
 */
import { z } from "zod";
import { LANGUAGES } from "../protocol.ts";
import { RecordSchema, recordsJson, spliceJson } from "./step_record.ts";

/** The kind of a session state token (a step state's is `p2`). */
export const SESSION_STATE_KIND = "s1";

/** One program that ended in a session: what replaying it needs. */
const ProgramSchema = z.object({
  /** The program as the client sent it (a TypeScript one is rewritten when it runs). */
  code: z.string(),
  tools: z.array(z.string()),
  modules: z.record(z.string(), z.string()).optional(),
  determinism: z.enum(["strict", "order_only"]),
  /** Its answered calls, by call key. */
  records: z.record(z.string(), RecordSchema),
});

/** A session's history: its id, its language, its ended programs in order. */
export const HistorySchema = z.object({
  id: z.string(),
  language: z.enum(LANGUAGES),
  programs: z.array(ProgramSchema),
});

/** What a session state token carries: the history, the live realm it names, when issued. */
export const SessionStateSchema = HistorySchema.extend({
  /** The realm the issuing instance keeps at exactly this history (random per token). */
  live: z.string(),
  /** Issued at, ms since the epoch. */
  iat: z.number(),
});

/** One ended program of a session. */
export type SessionProgramRecord = z.infer<typeof ProgramSchema>;

/** A session's history. */
export type SessionHistory = z.infer<typeof HistorySchema>;

/** A decoded session state. */
export type SessionState = z.infer<typeof SessionStateSchema>;

/**
 * The JSON of a history (and of any other fields `history` has: a session state's); recorded
 * results may be `JsonText`, spliced in as they are.
 *
 * @example
 * ```ts
 * import { historyJson } from "./session_state.ts";
 * const json = historyJson({ id: "s", language: "python", programs: [] });
 * console.assert(JSON.parse(json).language === "python");
 * ```
 */
export function historyJson(history: SessionHistory): string {
  return spliceJson(history, {
    programs: () =>
      `[${
        history.programs.map((program) =>
          spliceJson(program, { records: () => recordsJson(program.records) })
        ).join(",")
      }]`,
  });
}
