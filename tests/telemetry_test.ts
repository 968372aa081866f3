/**
 * OpenTelemetry: a server in its own process with Deno's built-in exporter (`OTEL_DENO=true`,
 * OTLP over HTTP with JSON) sends progtc's spans and metrics to a local OTLP sink started by
 * the test; the spans of a request belong to the trace its `traceparent` names.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { waitFor } from "./_helpers.ts";
import { DenoProcess, freePort } from "./_process.ts";

interface Span {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

/** An OTLP/HTTP (JSON) receiver on port 0: what arrived at /v1/traces and /v1/metrics. */
function otlpSink() {
  const spans: Span[] = [];
  const metrics = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    const body = await request.json().catch(() => ({}));
    if (path === "/v1/traces") {
      for (const r of body.resourceSpans ?? []) {
        for (const s of r.scopeSpans ?? []) spans.push(...(s.spans ?? []));
      }
    } else if (path === "/v1/metrics") {
      for (const r of body.resourceMetrics ?? []) {
        for (const s of r.scopeMetrics ?? []) {
          for (const m of s.metrics ?? []) metrics.add(m.name);
        }
      }
    }
    return Response.json({});
  });
  return { server, spans, metrics, url: `http://127.0.0.1:${server.addr.port}` };
}

function attribute(span: Span, key: string): unknown {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value ? Object.values(value)[0] : undefined;
}

Deno.test("with OTEL_DENO=true, spans (execution, tool call, step, sandbox acquisition) and metrics reach an OTLP sink", async () => {
  const sink = otlpSink();
  await using _sink = sink.server;
  const port = freePort();
  await using serve = new DenoProcess(
    ["run", "-A", "cli.ts", "serve", "--port", String(port), "--pool-size", "1"],
    {
      ...Deno.env.toObject(),
      PROGTC_API_KEY: "otel-key",
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: "progtc-test",
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "500",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  );
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const client = new ProgtcClient({
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: "otel-key",
    headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
  });
  await client.waitForServer({ timeoutMs: 30_000 });
  const tools = { add: (a: number, b: number) => a + b };
  const code = `import { add } from "tools"; console.log(await add(1, 2));`;
  assert.deepEqual(await client.executeCode({ code, tools }), {
    type: "success",
    stdout: "3\n",
    stderr: "",
  });
  const step = await client.executeCodeStep({ code, toolNames: ["add"] });
  assert.equal(step.type, "tool_call");
  const refused = await fetch(`http://127.0.0.1:${port}/execute-code`, { method: "POST" });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();

  const names = ["progtc.execution", "progtc.tool_call", "progtc.step", "progtc.sandbox.acquire"];
  await waitFor(
    "the spans at the sink",
    () => names.every((name) => sink.spans.some((s) => s.name === name)),
    20_000,
  ).catch((error) => {
    throw new Error(`${error.message}: ${sink.spans.map((s) => s.name)}\n${serve.output}`);
  });
  const [execution] = sink.spans.filter((s) => s.name === "progtc.execution");
  assert.equal(execution!.traceId, traceId, "the traceparent's trace");
  assert.equal(attribute(execution!, "progtc.outcome"), "success");
  assert.equal(attribute(execution!, "progtc.language"), "typescript");
  assert.equal(Number(attribute(execution!, "progtc.tool_calls")), 1);
  const [call] = sink.spans.filter((s) => s.name === "progtc.tool_call");
  assert.equal(call!.parentSpanId, execution!.spanId, "a tool call is a child of its execution");
  assert.equal(attribute(call!, "progtc.tool"), "add");
  assert.equal(attribute(call!, "progtc.outcome"), "ok");
  const [stepSpan] = sink.spans.filter((s) => s.name === "progtc.step");
  assert.equal(stepSpan!.traceId, traceId);
  assert.equal(attribute(stepSpan!, "progtc.outcome"), "tool_call");
  const acquisitions = sink.spans.filter((s) => s.name === "progtc.sandbox.acquire");
  assert.ok(acquisitions.every((s) => attribute(s, "progtc.outcome") === "ok"));
  assert.ok(acquisitions.some((s) => s.parentSpanId === stepSpan!.spanId), "under its step");

  const metrics = [
    "progtc.executions",
    "progtc.tool_call.duration",
    "progtc.queue.wait",
    "progtc.sandboxes.ready",
    "progtc.step.paused",
    "progtc.refusals",
  ];
  await waitFor(
    "the metrics at the sink",
    () => metrics.every((name) => sink.metrics.has(name)),
    20_000,
  ).catch((error) => {
    throw new Error(`${error.message}: ${[...sink.metrics]}`);
  });
  serve.child.kill("SIGTERM");
  assert.equal((await serve.exit()).code, 0, serve.output);
});
