/**
 * The client's SSE reader: line endings (CRLF, LF, CR, and a CRLF split across chunks), comments,
 * multi-line data, and a 4 MiB frame arriving in 64 KiB chunks read whole.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { readEvents } from "../client/sse.ts";

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function events(chunks: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const data of readEvents(stream(chunks))) out.push(data);
  return out;
}

Deno.test("the SSE reader splits CRLF, LF and CR lines, also across chunks", async () => {
  deepStrictEqual(await events(["data: a\r\n\r\ndata: b\n\ndata: c\r\rdata: d\r", "\n\r\n"]), [
    "a",
    "b",
    "c",
    "d",
  ]);
  // A CRLF split between chunks is one line end, not two (which would end the event early).
  deepStrictEqual(await events(["data: x\r", "\ndata: y\r", "\n\r", "\n"]), ["x\ny"]);
  deepStrictEqual(await events([": keepalive\n\n", "event: e\nid: 1\ndata:z\ndata\n\n"]), ["z\n"]);
  deepStrictEqual(await events(["data: unterminated"]), ["unterminated"]);
});

Deno.test("the SSE reader reads a 4 MiB frame arriving in 64 KiB chunks whole", async () => {
  const payload = JSON.stringify({
    type: "success",
    stdout: "é".repeat(2 * 1024 * 1024),
    stderr: "",
  });
  const text = `data: ${payload}\r\n\r\n`;
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += 65_536) chunks.push(text.slice(i, i + 65_536));
  const got = await events(chunks);
  strictEqual(got.length, 1);
  strictEqual(got[0], payload);
});
