/**
 * A reference for the sandbox hop: a bare Deno child process that answers each stdin line with
 * one stdout line. Modes: `direct` (the main thread answers), `worker` (the main thread relays
 * to a module worker and relays its answer back, as the sandbox's realm does), `worker-out`
 * (the main thread relays to the worker, which writes its answer to stdout itself). Needs no
 * permissions.
 *
 * @module
 */
import { readLines } from "../runner/lines.ts";

function answer(m: { id: number; value: unknown }): string {
  return JSON.stringify({
    type: "tool_call",
    id: m.id + 1,
    name: "echo",
    args: [m.value],
    kwargs: {},
  });
}
const ANSWER = answer.toString();

if (import.meta.main) {
  const mode = Deno.args[0] ?? "direct";
  const encoder = new TextEncoder();
  const stdout = Deno.stdout.writable.getWriter();
  const write = (line: string) => void stdout.write(encoder.encode(line + "\n"));
  let relay: (message: { id: number; value: unknown }) => void;
  if (mode === "worker" || mode === "worker-out") {
    const source = mode === "worker"
      ? `${ANSWER}; self.onmessage = (e) => postMessage(answer(e.data));`
      : `${ANSWER}; const out = Deno.stdout.writable.getWriter();
         const enc = new TextEncoder();
         self.onmessage = (e) => void out.write(enc.encode(answer(e.data) + "\\n"));`;
    const blob = new Blob([source], { type: "text/javascript" });
    const worker = new Worker(URL.createObjectURL(blob), { type: "module" });
    worker.onmessage = (event) => write(event.data);
    relay = (message) => worker.postMessage(message);
  } else {
    relay = (message) => write(answer(message));
  }
  write(`{"type":"ready"}`);
  for await (const line of readLines(Deno.stdin.readable)) relay(JSON.parse(line));
  Deno.exit(0);
}
