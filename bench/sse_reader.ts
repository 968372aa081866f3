/**
 * The client's SSE reader (client/sse.ts) against eventsource-parser (npm), in this process, on
 * the same bytes: one 4 MiB frame arriving in 64 KiB chunks (a large tool call's arguments),
 * and 10,000 small frames in 16 KiB chunks. Best of a few runs each, and the ratio.
 *
 * @module
 */
import { createParser } from "eventsource-parser";
import { readEvents } from "../client/sse.ts";
import type { Check, Ctx, Section } from "./main.ts";

const encoder = new TextEncoder();

function chunked(text: string, size: number): Uint8Array[] {
  const bytes = encoder.encode(text);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

function stream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

async function ours(chunks: Uint8Array[]): Promise<number> {
  let bytes = 0;
  for await (const data of readEvents(stream(chunks))) bytes += data.length;
  return bytes;
}

async function theirs(chunks: Uint8Array[]): Promise<number> {
  let bytes = 0;
  const parser = createParser({ onEvent: (event) => (bytes += event.data.length) });
  const reader = stream(chunks).pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return bytes;
}

async function best(runs: number, f: () => Promise<number>, expected: number): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const bytes = await f();
    const ms = performance.now() - started;
    if (bytes !== expected) throw new Error(`sse_reader: read ${bytes} bytes, wanted ${expected}`);
    fastest = Math.min(fastest, ms);
  }
  return fastest;
}

/** The SSE reader section. */
export async function sseReader(ctx: Ctx): Promise<Section> {
  const runs = ctx.n(7, 3);
  const big = "x".repeat(4 * 1024 * 1024);
  const small = Array.from({ length: 10_000 }, (_, i) => `{"type":"tool_call","id":"${i}"}`);
  const cases = [
    {
      name: "one 4 MiB frame, 64 KiB chunks",
      chunks: chunked(`data: ${big}\r\n\r\n`, 64 * 1024),
      bytes: big.length,
    },
    {
      name: "10,000 small frames, 16 KiB chunks",
      chunks: chunked(small.map((s) => `data: ${s}\n\n`).join(""), 16 * 1024),
      bytes: small.reduce((n, s) => n + s.length, 0),
    },
  ];
  const rows: string[][] = [];
  const checks: Check[] = [];
  for (const c of cases) {
    ctx.log(`sse_reader: ${c.name}`);
    const a = await best(runs, () => ours(c.chunks), c.bytes);
    const b = await best(runs, () => theirs(c.chunks), c.bytes);
    rows.push([c.name, a.toFixed(1), b.toFixed(1), `${(a / b).toFixed(2)}×`]);
    if (c.bytes === big.length) {
      checks.push({
        group: "issue 11",
        what: "SSE reader, 4 MiB frame, against eventsource-parser",
        wanted: "linear (issue: 500 ms before, 8 ms for eventsource-parser)",
        measured: `${a.toFixed(1)} ms vs ${b.toFixed(1)} ms`,
        met: a <= 4 * b,
      });
    }
  }
  return {
    title: "SSE reader",
    description: "The client's reader of server-sent events (client/sse.ts) and " +
      "eventsource-parser 3 (its `createParser` behind a `TextDecoderStream`), on the same bytes " +
      `from an in-memory stream, in this process; best of ${runs} runs each.`,
    tables: [{ head: ["input", "ours ms", "eventsource-parser ms", "ratio"], rows }],
    notes: [],
    checks,
  };
}
