/**
 * Our own HTTP errors: `application/problem+json` (RFC 9457) with a stable `code`.
 *
 * @module
 */
import type { Problem, ProblemCode } from "../protocol.ts";

/** An HTTP error the handler answers with; thrown inside the handler, caught at its top. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: ProblemCode;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: ProblemCode,
    detail: string,
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = "HttpProblem";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /** The response for this problem. */
  toResponse(): Response {
    return problemResponse(this.status, this.code, this.message, this.headers);
  }
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Builds a problem+json response. */
export function problemResponse(
  status: number,
  code: ProblemCode,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  const body: Problem = {
    type: `https://progtc.dev/problems/${code}`,
    title: TITLES[status] ?? "Error",
    status,
    code,
    detail,
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}
