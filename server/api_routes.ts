/**
 * The routes of the execution APIs, each a `POST` of a JSON body: `/execute-code` and
 * `/tool-results` (the streaming API, `stream.ts`), `/execute-code-step` (the step API,
 * `step.ts`); which of them are served is the app's `endpoints`.
 *
 * @module
 */
import type { Language } from "../protocol.ts";
import type { Runner } from "../runner/runner.ts";
import { readJson } from "./body.ts";
import type { JsonParser } from "./json_parser.ts";
import { checkModules, checkSize, headerLanguage } from "./request_checks.ts";
import { parseSession } from "./sessions.ts";
import type { StepService } from "./step.ts";
import type { StreamService } from "./stream.ts";
import { requestContext } from "./telemetry.ts";

/** One route's handler. */
export type Route = (request: Request) => Promise<Response>;

/** What the API routes are made with. */
export interface ApiRoutesOptions {
  /** Which APIs to serve. */
  endpoints: ReadonlySet<"stream" | "step">;
  /** The streaming API's service. */
  stream: StreamService;
  /** The step API's service. */
  steps: StepService;
  /** The bounds of a request body: its bytes, and how long it may take to arrive. */
  bodyLimits: { maxBytes: number; timeoutMs: number };
  /** Parses request bodies (large ones in a worker). */
  parser: JsonParser;
  /** The language of requests that name none. */
  language: Language;
  /** The largest program (code and modules), in bytes of UTF-8. */
  maxProgramBytes: number;
  /** What checks a program's client modules. */
  runner: Pick<Runner, "modulesProblem">;
}

/** The handlers of the API routes served, by path. */
export function apiRoutes(options: ApiRoutesOptions): Record<string, Route> {
  const { endpoints, stream, steps, bodyLimits, parser } = options;
  const routes: Record<string, Route> = {};
  if (endpoints.has("stream")) {
    routes["/execute-code"] = async (request) => {
      const { body } = await readJson(request, "execute", bodyLimits, parser);
      body.language ??= headerLanguage(request.headers);
      checkSize(body.code, body.modules, options.maxProgramBytes);
      await checkModules(body.modules, body.language ?? options.language, options.runner);
      const session = body.session ?? request.headers.get("x-progtc-session") ?? undefined;
      return await stream.execute(
        body,
        requestContext(request.headers),
        session === undefined ? undefined : parseSession(session),
      );
    };
    routes["/tool-results"] = async (request) => {
      const { body, bytes } = await readJson(request, "tool_result", bodyLimits, parser);
      // The reference answers 200 to a result nobody waits for, and its client fails the
      // whole execution on any error status; our client asks to be told (RFC 7240 `Prefer`).
      const strict = /\bhandling=strict\b/i.test(request.headers.get("prefer") ?? "");
      return stream.result(body, bytes, strict);
    };
  }
  if (endpoints.has("step")) {
    routes["/execute-code-step"] = async (request) => {
      const { body, bytes } = await readJson(request, "step", bodyLimits, parser);
      body.language ??= headerLanguage(request.headers);
      checkSize(body.code, body.modules, options.maxProgramBytes);
      const named = body.session ?? request.headers.get("x-progtc-session") ?? undefined;
      // Modules are checked by the service, once it knows the language (a session's).
      const { result, session } = await steps.step(
        body,
        bytes,
        request.signal,
        requestContext(request.headers),
        named === undefined ? undefined : parseSession(named),
      );
      const sessionId = "session_id" in result ? result.session_id : undefined;
      return Response.json(result, {
        headers: {
          "x-progtc-execution-id": session,
          ...(sessionId ? { "x-progtc-session": sessionId } : {}),
        },
      });
    };
  }
  return routes;
}
