/**
 * Test helpers: a real progtc server on port 0 with real sandboxes, and a client for it.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import { ProgtcClient } from "../client/mod.ts";
import { readEvents } from "../client/sse.ts";
import { type ProgtcServer, serve, type ServeOptions } from "../server/serve.ts";

/** The API key test servers use. */
export const API_KEY = "test-key";

/** A server and a client talking to it; disposing stops the server. */
export interface TestServer extends AsyncDisposable {
  server: ProgtcServer;
  client: ProgtcClient;
  url: string;
  /** The per-execution log lines the server wrote. */
  logs: string[];
}

/** Starts a real server on 127.0.0.1, port 0, and waits until its pool is warm. */
export async function startServer(options: Partial<ServeOptions> = {}): Promise<TestServer> {
  const logs: string[] = [];
  const server = await serve({
    apiKey: API_KEY,
    port: 0,
    poolSize: 1,
    pythonPoolSize: 0,
    log: (line) => logs.push(line),
    ...options,
  });
  await server.app.runner.warm();
  const client = new ProgtcClient({ baseUrl: server.url, apiKey: API_KEY });
  return {
    server,
    client,
    url: server.url,
    logs,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** POSTs JSON with the test key (or the given headers) and returns the response. */
export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = { "x-progtc-api-key": API_KEY },
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Reads every `data:` frame of an SSE response. */
export async function readFrames(response: Response): Promise<Record<string, unknown>[]> {
  const text = await response.text();
  return text.split("\n\n").filter((block) => block.startsWith("data: ")).map((block) =>
    JSON.parse(block.slice(6))
  );
}

/** An `/execute-code` event stream read one frame at a time, abortable like a real client. */
export async function openStream(url: string, body: unknown) {
  const controller = new AbortController();
  const response = await fetch(`${url}/execute-code`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-progtc-api-key": API_KEY },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  strictEqual(response.status, 200);
  const events = readEvents(response.body!);
  return {
    async next(): Promise<Record<string, unknown>> {
      const { value, done } = await events.next();
      ok(!done, "the stream ended early");
      return JSON.parse(value);
    },
    async rest(): Promise<Record<string, unknown>[]> {
      const frames = [];
      for await (const data of events) frames.push(JSON.parse(data));
      return frames;
    },
    /** The client goes away: the connection is dropped. */
    async abort(): Promise<void> {
      controller.abort();
      await events.return(undefined).catch(() => {});
    },
  };
}

/** Live child processes of this (test) process. */
export function children(): number[] {
  return childrenOf(Deno.pid);
}

/** Whether process `pid` is alive (not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
  } catch {
    return false;
  }
}

/** Live child processes of `parent` (a server in its own process: its sandbox hosts). */
export function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === parent && state !== "Z") pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids.sort();
}

/** Waits until `condition` holds, polling every 20 ms; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until this process's children are exactly the servers' pool hosts: nothing leaked. */
export async function assertOnlyPoolHosts(...servers: TestServer[]): Promise<void> {
  const expected = () =>
    servers.flatMap((
      t,
    ) => [...t.server.app.runner.pids("deno"), ...t.server.app.runner.pids("python")])
      .sort();
  await waitFor(
    "the children are the pools' hosts",
    () => JSON.stringify(children()) === JSON.stringify(expected()),
  ).catch(() => {
    throw new Error(`children ${children()} are not the pools' hosts ${expected()}`);
  });
}

/** An execution that waits in its one tool call until `release()`; `result` is its end. */
export function heldExecution(client: ProgtcClient) {
  const gate = Promise.withResolvers<string>();
  const called = Promise.withResolvers<void>();
  const result = client.executeCode({
    code: `import { wait } from "tools"; console.log(await wait());`,
    tools: {
      wait: () => {
        called.resolve();
        return gate.promise;
      },
    },
  });
  return { called: called.promise, release: () => gate.resolve("released"), result };
}
