/**
 * Test helpers: a real progtc server on port 0 with real sandboxes, and a client for it.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type Language, ProgtcClient, type ToolCall } from "../client/mod.ts";
import { readEvents } from "../client/sse.ts";
import { type ProgtcServer, serve, type ServeOptions } from "../server/serve.ts";
import { OPTIONS } from "../server/option_table.ts";

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

/**
 * Programs per host for every test server that does not set its own: `TEST_HOST_MAX_PROGRAMS=1`
 * runs a suite in the strict mode (`deno task test:strict`).
 */
export const TEST_HOST_MAX_PROGRAMS: number | undefined =
  Number(Deno.env.get("TEST_HOST_MAX_PROGRAMS")) || undefined;

/** Starts a real server on 127.0.0.1, port 0, and waits until its pool is warm. */
export async function startServer(options: Partial<ServeOptions> = {}): Promise<TestServer> {
  const logs: string[] = [];
  const server = await serve({
    apiKey: API_KEY,
    port: 0,
    poolSize: 1,
    pythonPoolSize: 0,
    log: (line) => logs.push(line),
    ...(TEST_HOST_MAX_PROGRAMS
      ? { hostMaxPrograms: TEST_HOST_MAX_PROGRAMS, pythonHostMaxPrograms: TEST_HOST_MAX_PROGRAMS }
      : {}),
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

/**
 * Tests that need nothing of their own share one server: each is a step of one test (`name`),
 * which starts the server with `options` before the first and stops it after the last
 * (`testOptions.ignore`: the whole test is skipped).
 *
 * @example
 * ```ts ignore
 * const shared = sharedServerTests("python programs on one server", { pythonPoolSize: 1 });
 * shared("prints", async (t) => { ... });
 * ```
 */
export function sharedServerTests(
  name: string,
  options: Partial<ServeOptions>,
  testOptions: { ignore?: boolean } = {},
): (name: string, fn: (t: TestServer) => Promise<void>) => void {
  const tests: [string, (t: TestServer) => Promise<void>][] = [];
  Deno.test(name, testOptions, async (context) => {
    await using server = await startServer(options);
    for (const [step, fn] of tests) await context.step(step, () => fn(server));
  });
  return (step, fn) => void tests.push([step, fn]);
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

/** The `data:` frames of an SSE response (or body), parsed, as they come. */
export async function* sseFrames(
  response: Response | ReadableStream<Uint8Array>,
): AsyncGenerator<Record<string, unknown>> {
  const body = response instanceof Response ? response.body : response;
  if (!body) throw new Error("The response has no body");
  for await (const data of readEvents(body)) yield JSON.parse(data);
}

/** Reads every `data:` frame of an SSE response. */
export async function readFrames(response: Response): Promise<Record<string, unknown>[]> {
  const frames = [];
  for await (const frame of sseFrames(response)) frames.push(frame);
  return frames;
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
  const frames = sseFrames(response);
  return {
    async next(): Promise<Record<string, unknown>> {
      const { value, done } = await frames.next();
      ok(!done, "the stream ended early");
      return value;
    },
    async rest(): Promise<Record<string, unknown>[]> {
      const rest = [];
      for await (const frame of frames) rest.push(frame);
      return rest;
    },
    /** The client goes away: the connection is dropped. */
    async abort(): Promise<void> {
      controller.abort();
      await frames.return(undefined).catch(() => {});
    },
  };
}

/** Asserts a problem+json answer with `status` and `code`; its detail. */
export async function problem(response: Response, status: number, code: string): Promise<string> {
  strictEqual(response.status, status);
  strictEqual(response.headers.get("content-type"), "application/problem+json");
  const body = await response.json();
  strictEqual(body.code, code);
  strictEqual(body.status, status);
  return body.detail;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Asserts the server still serves: `/ping` answers, and a program in `language` with one tool
 * call runs to its end (in a fresh sandbox once the pools are warm again).
 */
export async function assertStillServes(
  t: Pick<TestServer, "url" | "client"> & { server?: TestServer["server"] },
  language: Language = "typescript",
): Promise<void> {
  const ping = await fetch(`${t.url}/ping`);
  await ping.body?.cancel();
  strictEqual(ping.status, 200);
  // A server in this process: wait for its pool (one in its own process has to be ready).
  await t.server?.app.runner.warm();
  const calls: ToolCall[] = [];
  const result = await t.client.executeCode({
    code: language === "python"
      ? "from tools import add\nprint(await add(20, 22))\n"
      : `import { add } from "tools"; console.log(await add(20, 22));`,
    tools: { add: (a: number, b: number) => a + b },
    language,
    onToolCall: (call) => calls.push(call),
  });
  deepStrictEqual(
    result,
    { type: "success", stdout: "42\n", stderr: "" },
    "the server still serves",
  );
  strictEqual(calls.length, 1);
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

/** Waits until `condition` holds, polling every `intervalMs`; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`Not within ${timeoutMs} ms: ${what}`);
    await delay(intervalMs);
  }
}

/** How long a host may take to start (the servers here keep the default). */
const READY_TIMEOUT_MS = OPTIONS.readyTimeoutMs.default as number;

/**
 * Waits until this process's children are exactly the servers' pool hosts: nothing leaked. A
 * host a pool is still starting is the pool's, not a leak (in the strict mode every program's
 * host is replaced, and a Python host beside a busy neighbour takes seconds to start): what the
 * pools start is waited for first, each start bounded by its ready timeout.
 */
export async function assertOnlyPoolHosts(...servers: TestServer[]): Promise<void> {
  const starting = () =>
    servers.some((t) =>
      t.server.app.runner.stats("deno").starting + t.server.app.runner.stats("python").starting >
        0
    );
  await waitFor("the pools started their hosts", () => !starting(), READY_TIMEOUT_MS);
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
