/**
 * A runner's refusal to give a sandbox ({@linkcode RunnerError}'s codes), as the problem the
 * client gets: `503 shutting_down` when the pool is closed, else `503 sandbox_unavailable`,
 * logged (it is the server's).
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import { RunnerError } from "../runner/runner_error.ts";
import type { Logger } from "./log.ts";
import { HttpProblem } from "./problem.ts";

/** The problem a runner's refusal is to the client, in one place; logged when it is ours. */
export function sandboxUnavailable(
  error: unknown,
  language: Language,
  logger: Logger,
): HttpProblem {
  const code = error instanceof RunnerError ? error.code : "spawn_failed";
  if (code === "pool_closed") {
    return new HttpProblem(503, "shutting_down", "The server is shutting down");
  }
  const why = error instanceof Error ? error.message : String(error);
  logger.error(`sandbox unavailable: ${why}`, {
    event: "sandbox_unavailable",
    code,
    language,
  });
  const detail = code === "acquire_timeout"
    ? "No sandbox became free in time"
    : "No sandbox could be started";
  return new HttpProblem(503, "sandbox_unavailable", detail, { "retry-after": "1" });
}
