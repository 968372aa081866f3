/**
 * Main module of a Deno sandbox process, started by the server with no permissions. It owns
 * the protocol end (stdin/stdout) in a realm the user's code cannot reach, starts the user
 * worker with `permissions: "none"`, and relays messages both ways.
 *
 * @module
 */
import { openChannel } from "../channel.ts";
import { workerSource } from "../realm.ts";
import { workerMain } from "./worker_main.ts";

const channel = openChannel();
const write = channel.write;
let ended = false;

function endWith(message: { type: "runtime_error"; error: string }): void {
  if (ended) return;
  ended = true;
  write(JSON.stringify(message));
}

const source = workerSource(workerMain);
const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })), {
  type: "module",
  name: "program",
  deno: { permissions: "none" },
});

worker.onmessage = (event: MessageEvent<unknown>) => {
  if (ended || typeof event.data !== "string") return;
  // End messages carry no "output"/"tool_call"/"ready"/"idle" type; remember that one came.
  if (!/^\{"type":"(output|tool_call|ready|idle)"/.test(event.data)) ended = true;
  write(event.data);
};
worker.onerror = (event: ErrorEvent) => {
  event.preventDefault();
  endWith({ type: "runtime_error", error: `${event.message}\n` });
};
worker.onmessageerror = () => endWith({ type: "runtime_error", error: "Unreadable message\n" });

for await (const line of channel.lines) worker.postMessage(line);
// The server closed our stdin: it no longer wants this sandbox.
Deno.exit(0);
