/**
 * `StderrTail`: the end of a host's stderr, bounded, and where its last lines began (what decides
 * whether a host of one program aborted for an allocation of its program's).
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { StderrTail } from "../runner/stderr_tail.ts";

const encoder = new TextEncoder();

/** A tail of a stream that delivers exactly these chunks. */
async function tailOf(pieces: string[], maxBytes?: number): Promise<StderrTail> {
  const stream = ReadableStream.from(pieces.map((piece) => encoder.encode(piece)));
  const tail = new StderrTail(stream, maxBytes);
  await tail.done;
  return tail;
}

Deno.test("the last lines, and the byte each began at, across chunks", async () => {
  const tail = await tailOf(["é warn\nmemory alloc", "ation of 8 bytes ", "failed\nnote\n"]);
  strictEqual(tail.written, 49);
  deepStrictEqual(tail.lastLines(2), [
    { text: "memory allocation of 8 bytes failed", start: 8 },
    { text: "note", start: 44 },
  ]);
  deepStrictEqual(tail.lastLines(1), [{ text: "note", start: 44 }]);
  strictEqual(tail.text, "é warn\nmemory allocation of 8 bytes failed\nnote\n");
});

Deno.test("lines that began in an earlier chunk, after chunks with no newline", async () => {
  deepStrictEqual((await tailOf(["a\n", "b", "c", "d\n"])).lastLines(2), [
    { text: "a", start: 0 },
    { text: "bcd", start: 2 },
  ]);
  deepStrictEqual((await tailOf(["x", "a\n\n"])).lastLines(2), [
    { text: "xa", start: 0 },
    { text: "", start: 3 },
  ]);
  // Many lines in one chunk: the last ones.
  deepStrictEqual((await tailOf(["1\n2\n3\n4\n"])).lastLines(2), [
    { text: "3", start: 4 },
    { text: "4", start: 6 },
  ]);
});

Deno.test("fewer lines when it wrote fewer; none when the stream ends mid-line or wrote none", async () => {
  deepStrictEqual((await tailOf(["only\n"])).lastLines(2), [{ text: "only", start: 0 }]);
  deepStrictEqual((await tailOf(["a\nmemory allocation of 8 bytes failed"])).lastLines(2), []);
  deepStrictEqual((await tailOf(["no newline"])).lastLines(1), []);
  const empty = await tailOf([]);
  deepStrictEqual(empty.lastLines(2), []);
  strictEqual(empty.written, 0);
  strictEqual(empty.text, "");
});

Deno.test("it keeps the last maxBytes and counts all", async () => {
  const lines = Array.from(
    { length: 100 },
    (_, i) => `${String(i).padStart(3, "0")}${"x".repeat(96)}\n`,
  );
  const tail = await tailOf(lines, 1000);
  strictEqual(tail.written, 10_000);
  strictEqual(tail.text, lines.join("").slice(-1000));
  deepStrictEqual(tail.lastLines(2), [
    { text: lines[98]!.slice(0, -1), start: 9800 },
    { text: lines[99]!.slice(0, -1), start: 9900 },
  ]);
});

Deno.test("a line that began before what it keeps is not given", async () => {
  const tail = await tailOf(["a\n", "y".repeat(5000), "\nshort\n"], 1000);
  strictEqual(tail.written, 5009);
  deepStrictEqual(tail.lastLines(2), [{ text: "short", start: 5003 }]);
  strictEqual(tail.text, `${"y".repeat(993)}\nshort\n`);
});

Deno.test("a character cut at the start of what it keeps is dropped, not garbled", async () => {
  // "é" is two bytes: keeping 4 of "éé\n" cuts the first one.
  const tail = await tailOf(["éé\n"], 4);
  strictEqual(tail.text, "é\n");
  ok(!tail.text.includes("\ufffd"));
});
