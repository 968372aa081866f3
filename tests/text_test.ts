/**
 * The two UTF-8 counts agree with what `TextEncoder` writes: the sandbox's (a loop, in workers
 * with nothing imported) and the server's (V8's own). The sandbox bounds the lines it sends by
 * one, the server enforces its limits by the other: where they disagreed, a line the sandbox
 * sent as within a limit could be refused, or the reverse.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import { utf8Length as sandboxCount } from "../sandbox/text.ts";
import { utf8Length as serverCount } from "../server/utf8_length.ts";

const encoder = new TextEncoder();

const CASES = [
  "",
  "plain ascii",
  "é and ß",
  "中文",
  "😀 a pair",
  "\ud800",
  "lone low \udc00 inside",
  "high then not low \ud83d x",
  "ends with a high \ud83d",
  "\udc00\ud800",
  "\u0000\u007f\u0080\u07ff\u0800\uffff",
];

Deno.test("UTF-8 counts: sandbox, server and TextEncoder agree on edge cases", () => {
  for (const text of CASES) {
    const bytes = encoder.encode(text).byteLength;
    strictEqual(sandboxCount(text), bytes, JSON.stringify(text));
    strictEqual(serverCount(text), bytes, JSON.stringify(text));
  }
});

Deno.test("UTF-8 counts: sandbox, server and TextEncoder agree on random UTF-16", () => {
  // Units from every range, surrogates alone and in pairs; a fixed seed, so a failure repeats.
  let seed = 0x2f6b1a;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const ranges = [0x80, 0x800, 0xd800, 0x10000];
  for (let round = 0; round < 2000; round++) {
    const units: number[] = [];
    for (let i = next() % 40; i > 0; i--) units.push(next() % ranges[next() % ranges.length]!);
    const text = String.fromCharCode(...units);
    const bytes = encoder.encode(text).byteLength;
    strictEqual(sandboxCount(text), bytes, JSON.stringify(text));
    strictEqual(serverCount(text), bytes, JSON.stringify(text));
  }
});
