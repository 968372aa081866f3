/**
 * The progtc HTTP application: a plain `(Request) => Promise<Response>` handler. It routes,
 * authenticates, reads and checks bodies (the APIs' routes: `api_routes.ts`), and runs the
 * lifecycle; admission (`admission.ts`) says who may run, and each API's executions belong to
 * its service (`stream.ts`, `step.ts`).
 *
 * @module
 */
import { Runner } from "../runner/runner.ts";
import { apiRoutes } from "./api_routes.ts";
import { KeyCheck } from "./auth.ts";
import { withCors } from "./cors.ts";
import { ByteBudget } from "./byte_budget.ts";
import { Admission } from "./admission.ts";
import { JsonParser } from "./json_parser.ts";
import { limitsOf } from "./limits.ts";
import { checkDenoBinary, programCharge } from "./option_checks.ts";
import { type AppOptions, resolveOptions, runnerConfig } from "./options.ts";
import { HttpProblem, problemResponse } from "./problem.ts";
import { checkModules } from "./request_checks.ts";
import { StateCodec } from "./state_token.ts";
import { SessionService } from "./sessions.ts";
import { StepService } from "./step.ts";
import { StepSessions } from "./step_session.ts";
import { StreamService } from "./stream.ts";
import { instruments, observeGauges } from "./telemetry.ts";

/** A running progtc application. */
export interface App {
  /** Answers one request. Never throws. */
  fetch(request: Request): Promise<Response>;
  /** Executions running now (streaming, and steps in progress). */
  readonly running: number;
  /**
   * The memory budget, what is counted against it now (programs' charges, and what hosts hold
   * beyond them), and what the hosts were last measured at, in bytes.
   */
  readonly memory: { budget: number; held: number; charged: number; measured: number };
  /**
   * The runner whose sandboxes execute programs (for tests and benchmarks).
   * @ignore
   */
  readonly runner: Runner;
  /**
   * Stops accepting executions (they get `503 shutting_down`, `/ready` answers 503) and lets
   * the running ones go on: tool results and `/ping` are still served. {@linkcode close}
   * ends what is left.
   */
  drain(): void;
  /**
   * Stops accepting executions, ends the running ones with a terminal frame, and closes the
   * runner (unless it was passed in).
   */
  close(): Promise<void>;
}

/**
 * Creates the progtc application. Its `fetch` is a plain request handler: pass it to
 * `Deno.serve`, or call it with `new Request(...)` in tests.
 *
 * @example
 * ```ts ignore
 * import { createApp } from "./app.ts";
 * const app = await createApp({ apiKey: "secret" });
 * const response = await app.fetch(new Request("http://localhost/ping"));
 * console.assert(response.status === 200);
 * await app.close();
 * ```
 */
export async function createApp(options: AppOptions): Promise<App> {
  const config = resolveOptions(options);
  const logger = config.logger;
  const keys = new KeyCheck(config.apiKey);
  if (!options.runner) await checkDenoBinary(config.denoPath);
  const runner = options.runner ?? await Runner.create(runnerConfig(config, options));
  const ownsRunner = options.runner === undefined;
  const admission = new Admission({
    runner,
    maxConcurrent: config.maxConcurrent,
    budgetBytes: config.memoryBudgetMb * 2 ** 20,
    chargeBytes: {
      deno: programCharge(config, "typescript"),
      python: programCharge(config, "python"),
    },
    queueTimeoutMs: config.queueTimeoutMs,
    logger,
  });
  const limits = limitsOf(config);
  const held = new ByteBudget(config.maxHeldBytes);
  const parser = new JsonParser();
  const bodyLimits = { maxBytes: config.maxBodyBytes, timeoutMs: config.bodyTimeoutMs };

  const codec = await StateCodec.create(config.stateSecret);
  const steps = new StepService({
    codec,
    admission,
    limits,
    language: config.language,
    maxStateBytes: config.maxStateBytes,
    stateMaxAgeMs: config.stateMaxAgeMs,
    warmResumeTtlMs: config.warmResumeTtlMs,
    maxPaused: config.maxPaused,
    maxAnswerBytes: config.maxStepAnswerBytes,
    budget: held,
    checkModules: (modules, language) => checkModules(modules, language, runner),
    logger,
  });
  // After the step service: paused step executions give memory back before idle sessions.
  const sessions = config.maxSessions > 0
    ? new SessionService({
      admission,
      maxSessions: config.maxSessions,
      idleTimeoutMs: config.sessionIdleTimeoutMs,
      logger,
    })
    : undefined;
  if (sessions) {
    steps.useSessions(
      new StepSessions({
        sessions,
        codec,
        limits,
        budget: held,
        maxStateBytes: config.maxStateBytes,
        stateMaxAgeMs: config.stateMaxAgeMs,
        maxPrograms: config.maxSessionPrograms,
        logger,
      }),
    );
  }
  const stream = new StreamService({
    admission,
    ...(sessions ? { sessions } : {}),
    limits,
    language: config.language,
    maxBufferedBytes: config.maxBufferedBytes,
    unreadTimeoutMs: config.unreadStreamTimeoutMs,
    budget: held,
    logger,
  });
  const stopGauges = observeGauges(() => ({
    ready: Object.fromEntries(
      (["deno", "python"] as const).map((kind) => [kind, runner.stats(kind).ready]),
    ),
    paused: steps.paused,
  }));

  const routes = apiRoutes({
    endpoints: new Set(options.endpoints ?? ["stream", "step"]),
    stream,
    steps,
    bodyLimits,
    parser,
    language: config.language,
    maxProgramBytes: config.maxProgramBytes,
    runner,
  });

  /** `GET /ready`: 200 when a program of the default language could be admitted now. */
  function ready(): Response {
    const readiness = admission.readiness(config.language);
    if (!readiness.ready) {
      throw new HttpProblem(503, readiness.code, readiness.reason, { "retry-after": "1" });
    }
    return Response.json({ status: "ready", language: config.language });
  }

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/ping") {
      if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed("GET");
      return new Response(null, { status: 200 });
    }
    if (pathname === "/ready") {
      if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed("GET");
      return ready();
    }
    const handler = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
    if (!handler) throw new HttpProblem(404, "not_found", `No route for ${pathname}`);
    if (request.method !== "POST") throw methodNotAllowed("POST");
    if (!keys.allows(request.headers)) {
      throw new HttpProblem(401, "unauthorized", "Missing or wrong API key", {
        "www-authenticate": 'Bearer realm="progtc"',
      });
    }
    return await handler(request);
  }

  /** Logs and counts a request answered with a problem. */
  function refused(request: Request, status: number, code: string): void {
    const { pathname } = new URL(request.url);
    logger.warn(`refused ${request.method} ${pathname}: ${status} ${code}`, {
      event: "refused",
      method: request.method,
      path: pathname,
      status,
      code,
    });
    instruments.refusals.add(1, { status, code });
  }

  async function answer(request: Request): Promise<Response> {
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof HttpProblem) {
        refused(request, error.status, error.code);
        return error.toResponse();
      }
      logger.error(`internal error: ${error instanceof Error ? error.stack : String(error)}`);
      refused(request, 500, "internal");
      return problemResponse(500, "internal", "Internal server error");
    }
  }
  const handler = withCors(answer, config.corsOrigins);

  return {
    fetch: handler,
    get running() {
      return stream.running + steps.running;
    },
    get memory() {
      return admission.memory;
    },
    runner,
    drain() {
      admission.drain();
    },
    async close() {
      admission.close();
      stopGauges();
      parser.close();
      const done = Promise.all([stream.close(), steps.close()]);
      // After the streams: a session's running program ended with its stream's terminal frame.
      sessions?.close();
      if (ownsRunner) runner.close();
      await done;
    },
  };
}

function methodNotAllowed(allowed: string): HttpProblem {
  return new HttpProblem(405, "method_not_allowed", `Use ${allowed}`, { allow: allowed });
}
