/**
 * OpenTelemetry spans and metrics of the server, through `@opentelemetry/api`. Without a
 * provider every call is a no-op; with Deno's built-in exporter (`OTEL_DENO=true`, and the
 * usual `OTEL_EXPORTER_OTLP_*` variables) they are exported over OTLP.
 *
 * Spans: `progtc.execution` (a streaming execution), `progtc.tool_call` (from the call frame to
 * its result), `progtc.step` (one step request), `progtc.sandbox.acquire` (slot, memory and
 * sandbox). A request's `traceparent` is the parent of the spans it starts.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  metrics,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import denoJson from "../deno.json" with { type: "json" };

const SCOPE = "progtc";
const tracer = trace.getTracer(SCOPE, denoJson.version);
const meter = metrics.getMeter(SCOPE, denoJson.version);

/** The server's instruments. */
export const instruments = {
  executions: meter.createCounter("progtc.executions", {
    description: "Executions (streaming) and steps that ended, by outcome",
  }),
  toolCallDuration: meter.createHistogram("progtc.tool_call.duration", {
    description: "Time from a tool call frame to its result",
    unit: "ms",
  }),
  queueWait: meter.createHistogram("progtc.queue.wait", {
    description: "Time a request waited for an execution slot, memory and a sandbox",
    unit: "ms",
  }),
  refusals: meter.createCounter("progtc.refusals", {
    description: "Requests answered with a problem (4xx, 5xx), by status and code",
  }),
};

/** Registers the gauges read at each export: ready sandboxes per language, paused sessions. */
export function observeGauges(
  read: () => { ready: Record<string, number>; paused: number },
): () => void {
  const ready = meter.createObservableGauge("progtc.sandboxes.ready", {
    description: "Sandbox hosts ready for a program",
  });
  const paused = meter.createObservableGauge("progtc.step.paused", {
    description: "Paused step executions held for a warm resume",
  });
  const callback = (
    result: { observe(value: number, attributes?: Attributes): void },
    which: "ready" | "paused",
  ) => {
    const now = read();
    if (which === "paused") return result.observe(now.paused);
    for (const [language, n] of Object.entries(now.ready)) result.observe(n, { language });
  };
  const onReady = (result: Parameters<typeof callback>[0]) => callback(result, "ready");
  const onPaused = (result: Parameters<typeof callback>[0]) => callback(result, "paused");
  ready.addCallback(onReady);
  paused.addCallback(onPaused);
  return () => {
    ready.removeCallback(onReady);
    paused.removeCallback(onPaused);
  };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The parent context of a request's spans: the active span (Deno's HTTP server span, when it
 * instruments the request), else the request's W3C `traceparent`, else none.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { requestContext } from "./telemetry.ts";
 * const headers = new Headers({
 *   traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
 * });
 * const parent = trace.getSpanContext(requestContext(headers));
 * console.assert(parent?.traceId === "0af7651916cd43dd8448eb211c80319c");
 * ```
 */
export function requestContext(headers: Headers): Context {
  const active = context.active();
  if (trace.getSpan(active)) return active;
  const match = headers.get("traceparent")?.trim().match(TRACEPARENT);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  });
}

/** Starts a span under `parent`. */
export function startSpan(name: string, parent: Context, attributes: Attributes = {}): Span {
  return tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent);
}

/** The context whose active span is `span` (to start its children). */
export function contextOf(span: Span, parent: Context): Context {
  return trace.setSpan(parent, span);
}

/** Ends `span` with its outcome; an `error` outcome marks it failed. */
export function endSpan(span: Span, outcome: string, attributes: Attributes = {}): void {
  span.setAttributes({ "progtc.outcome": outcome, ...attributes });
  if (outcome !== "success" && outcome !== "tool_call" && outcome !== "ok") {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  span.end();
}
