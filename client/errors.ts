/**
 * Errors the client throws for conditions callers may want to handle.
 *
 * @module
 */
import type { ProblemCode } from "../protocol.ts";

/** The server answered with an HTTP error (`application/problem+json`). */
export class ProgtcHttpError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The problem's stable code, or `"http_error"` when the body was not a problem. */
  readonly code: ProblemCode | "http_error";

  /** An error for a response with `status`, problem `code` and `detail`. */
  constructor(status: number, code: ProblemCode | "http_error", detail: string) {
    super(`Request failed with ${status} ${code}: ${detail}`);
    this.name = "ProgtcHttpError";
    this.status = status;
    this.code = code;
  }

  /** Reads a failed response into an error. */
  static async from(response: Response): Promise<ProgtcHttpError> {
    const text = await response.text().catch(() => "");
    try {
      const problem = JSON.parse(text);
      if (typeof problem?.code === "string") {
        return new ProgtcHttpError(response.status, problem.code, String(problem.detail ?? ""));
      }
    } catch {
      // Not a problem document.
    }
    return new ProgtcHttpError(
      response.status,
      "http_error",
      text.slice(0, 200) || response.statusText,
    );
  }
}

/** The server broke the protocol: a frame it cannot send, or a stream with no result. */
export class ProgtcProtocolError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "ProgtcProtocolError";
  }
}

/** The server could not be reached (refused, reset, no such host): names the URL tried. */
export class ProgtcConnectionError extends Error {
  /** The URL of the request that failed. */
  readonly url: string;

  /** An error for a request to `url` that failed with `cause`. */
  constructor(url: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`Cannot reach the progtc server at ${url}: ${why}`, { cause });
    this.name = "ProgtcConnectionError";
    this.url = url;
  }
}
