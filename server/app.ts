/**
 * The progtc HTTP application: a plain `(Request) => Promise<Response>` handler with the
 * reference's routes, plus the lifecycle of its runner and live executions.
 *
 * @module
 */
import {
  ExecuteCodeRequest,
  ExecuteCodeStepRequest,
  type Language,
  ToolResultRequest,
} from "../protocol.ts";
import { runMessage, Runner } from "../runner/runner.ts";
import { KeyCheck } from "./auth.ts";
import { jsonOverLimit, readJson, resultTooLarge } from "./body.ts";
import { Capacity } from "./capacity.ts";
import { Execution } from "./execution.ts";
import { type AppOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { HttpProblem, problemResponse } from "./problem.ts";
import { EventStream } from "./sse.ts";
import { StateCodec } from "./state_token.ts";
import { type Lease, StepService } from "./step.ts";

/** A running progtc application. */
export interface App {
  /** Answers one request. Never throws. */
  fetch(request: Request): Promise<Response>;
  /** Executions running now (streaming, and steps in progress). */
  readonly running: number;
  /**
   * The runner whose sandboxes execute programs (for tests and benchmarks).
   * @ignore
   */
  readonly runner: Runner;
  /**
   * Stops accepting executions, ends the running ones with a terminal frame, and closes the
   * runner (unless it was passed in).
   */
  close(): Promise<void>;
}

const ENDED_MEMORY = 4096;

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
  const keys = new KeyCheck(config.apiKey);
  // A protocol line holds at most one output chunk or one call's arguments, JSON-escaped.
  const maxLineLength = options.maxLineLength ??
    6 * Math.max(config.maxOutputBytes, config.maxToolArgsBytes) + 64 * 1024;
  const runner = options.runner ?? await Runner.create({
    ...options,
    maxLineLength,
    // Paused step executions hold a host without an execution slot.
    maxHosts: options.maxHosts ?? config.maxConcurrent + config.maxPaused,
  });
  const ownsRunner = options.runner === undefined;
  const capacity = new Capacity(config.maxConcurrent);
  const programLimits = limits(config);
  const executions = new Map<string, Execution>();
  const ended = new Set<string>();
  let closing = false;
  const steps = new StepService({
    codec: await StateCodec.create(config.stateSecret),
    acquire: startSandbox,
    acquireSlot: takeSlot,
    limits: programLimits,
    language: config.language,
    maxStateBytes: config.maxStateBytes,
    stateMaxAgeMs: config.stateMaxAgeMs,
    warmResumeTtlMs: config.warmResumeTtlMs,
    maxPaused: config.maxPaused,
    log: config.log,
  });

  function remember(id: string): void {
    executions.delete(id);
    ended.add(id);
    if (ended.size > ENDED_MEMORY) ended.delete(ended.values().next().value!);
  }

  const endpoints = new Set(options.endpoints ?? ["stream", "step"]);
  const handlers: Record<string, (request: Request) => Promise<Response>> = {
    ...(endpoints.has("stream")
      ? { "/execute-code": executeCode, "/tool-results": toolResults }
      : {}),
    ...(endpoints.has("step") ? { "/execute-code-step": executeCodeStep } : {}),
  };

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/ping") {
      if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed("GET");
      return new Response(null, { status: 200 });
    }
    const handler = Object.hasOwn(handlers, pathname) ? handlers[pathname] : undefined;
    if (!handler) throw new HttpProblem(404, "not_found", `No route for ${pathname}`);
    if (request.method !== "POST") throw methodNotAllowed("POST");
    if (!keys.allows(request.headers)) {
      throw new HttpProblem(401, "unauthorized", "Missing or wrong API key", {
        "www-authenticate": 'Bearer realm="progtc"',
      });
    }
    return await handler(request);
  }

  async function takeSlot(): Promise<() => void> {
    if (closing) throw new HttpProblem(503, "shutting_down", "The server is shutting down");
    if (!await capacity.acquire(config.queueTimeoutMs)) {
      throw new HttpProblem(503, "over_capacity", "Too many executions are running", {
        "retry-after": "1",
      });
    }
    let released = false;
    return () => {
      if (!released) capacity.release();
      released = true;
    };
  }

  async function startSandbox(language: Language): Promise<Lease> {
    if (!runner.supports(language)) {
      throw new HttpProblem(400, "unsupported_language", `This server does not run ${language}`);
    }
    const release = await takeSlot();
    try {
      return { sandbox: await runner.acquire(language), release };
    } catch (error) {
      release();
      const why = error instanceof Error ? error.message : String(error);
      config.log(`sandbox unavailable: ${why}`);
      throw new HttpProblem(503, "sandbox_unavailable", "No sandbox could be started", {
        "retry-after": "1",
      });
    }
  }

  async function executeCodeStep(request: Request): Promise<Response> {
    const { body, bytes } = await readJson(request, ExecuteCodeStepRequest, config.maxBodyBytes);
    await checkModules(runner, body.modules, body.language ?? config.language);
    return Response.json(await steps.step(body, bytes, request.signal));
  }

  async function executeCode(request: Request): Promise<Response> {
    const { body } = await readJson(request, ExecuteCodeRequest, config.maxBodyBytes);
    const language = body.language ?? config.language;
    await checkModules(runner, body.modules, language);
    const { sandbox, release } = await startSandbox(language);
    const events = new EventStream({
      maxBufferedBytes: config.maxBufferedBytes,
      onCancel: () => execution.cancel("the client disconnected"),
      onOverflow: () => execution.cancel("the client does not read its event stream"),
    });
    const execution: Execution = new Execution(sandbox, body.tool_names, programLimits, {
      toolCall: (call) => events.send(call),
      ...(body.stream_output
        ? { output: (stream, data) => events.send({ type: stream, data }) }
        : {}),
      end: (result, why) => {
        events.send(result);
        events.close();
        release();
        remember(execution.id);
        const ms = (performance.now() - execution.startedAt).toFixed(1);
        config.log(
          `execution ${execution.id} ${result.type} (${why}) ${ms} ms, ${execution.toolCalls} tool calls, sandbox ${sandbox.pid} run ${
            sandbox.runs + 1
          }`,
        );
      },
    });
    executions.set(execution.id, execution);
    execution.start(
      runMessage(language, body.code, body.tool_names, {
        ...programLimits,
        reportIdle: false,
        ...(body.modules ? { modules: body.modules } : {}),
      }),
    );
    return new Response(events.stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  }

  async function toolResults(request: Request): Promise<Response> {
    const { body, bytes } = await readJson(request, ToolResultRequest, config.maxBodyBytes);
    // The reference answers 200 to a result nobody waits for, and its client fails the whole
    // execution on any error status; our client asks to be told (RFC 7240 `Prefer`).
    const strict = /\bhandling=strict\b/i.test(request.headers.get("prefer") ?? "");
    const notPending = (detail: string) => {
      if (!strict) return Response.json(null);
      throw new HttpProblem(409, "tool_call_not_pending", detail);
    };
    const execution = executions.get(body.execution_id);
    if (!execution) {
      if (ended.has(body.execution_id)) return notPending("The execution has already ended");
      throw new HttpProblem(404, "unknown_execution", `No execution ${body.execution_id}`);
    }
    const size = body.error === undefined
      ? jsonOverLimit(body.result, config.maxToolResultBytes, bytes)
      : undefined;
    const status = execution.deliver(
      body.tool_call_id,
      size !== undefined
        ? { error: resultTooLarge(size, config.maxToolResultBytes) }
        : body.error !== undefined
        ? { error: body.error }
        : { value: body.result ?? null },
    );
    if (status === "unknown") {
      throw new HttpProblem(404, "unknown_tool_call", `No tool call ${body.tool_call_id}`);
    }
    if (status === "not_pending") {
      return notPending("The tool call was already answered or timed out");
    }
    if (size !== undefined) {
      throw new HttpProblem(
        413,
        "result_too_large",
        `${resultTooLarge(size, config.maxToolResultBytes)}; the program sees a ToolError`,
      );
    }
    return Response.json(null);
  }

  return {
    async fetch(request) {
      try {
        return await route(request);
      } catch (error) {
        if (error instanceof HttpProblem) return error.toResponse();
        config.log(`internal error: ${error instanceof Error ? error.stack : String(error)}`);
        return problemResponse(500, "internal", "Internal server error");
      }
    },
    get running() {
      return executions.size + steps.running;
    },
    runner,
    async close() {
      closing = true;
      const live = [...executions.values()];
      for (const execution of live) execution.cancel("the server is shutting down");
      const stepsClosed = steps.close();
      if (ownsRunner) runner.close();
      await Promise.all([...live.map((e) => e.stopped), stepsClosed]);
    },
  };
}

function limits(config: ResolvedOptions) {
  return {
    toolCallTimeoutMs: config.toolCallTimeoutMs,
    executionTimeoutMs: config.executionTimeoutMs,
    maxOutputBytes: config.maxOutputBytes,
    maxToolCalls: config.maxToolCalls,
    maxToolArgsBytes: config.maxToolArgsBytes,
    maxToolResultBytes: config.maxToolResultBytes,
    pythonMemoryBytes: config.pythonMemoryBytes,
  };
}

async function checkModules(
  runner: Runner,
  modules: Record<string, string> | undefined,
  language: Language,
): Promise<void> {
  if (!modules || Object.keys(modules).length === 0) return;
  if (language !== "python") {
    throw new HttpProblem(400, "unsupported_modules", "`modules` are Python modules");
  }
  const problem = await runner.modulesProblem(modules);
  if (problem) throw new HttpProblem(400, "unsupported_modules", problem);
}

function methodNotAllowed(allowed: string): HttpProblem {
  return new HttpProblem(405, "method_not_allowed", `Use ${allowed}`, { allow: allowed });
}
