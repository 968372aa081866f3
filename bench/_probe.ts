/**
 * Time stamps at the hops of a request through progtc, taken in the bench process with no
 * change to the core code: the server is `createApp()` behind our own `Deno.serve` (so its
 * handler can be wrapped), the client gets a wrapping `fetch`, and a few methods the core calls
 * (`Sandbox.prototype.send`/`listen`, `EventStream.prototype.send`, `KeyCheck.prototype.allows`,
 * the request schemas' `safeParse`) are wrapped while the probe is installed and restored after.
 * Client and server share the process, so one clock serves both.
 *
 * @module
 */
import { createApp } from "../server/app.ts";
import { EventStream } from "../server/sse.ts";
import { Sandbox, type SandboxEvent } from "../runner/sandbox.ts";
import type { ServerMessage } from "../runner/sandbox_protocol.ts";
import { ProgtcClient } from "../client/mod.ts";
import { ExecuteCodeRequest, ToolResultRequest } from "../protocol.ts";
import { KeyCheck } from "../server/auth.ts";
import { BENCH_API_KEY } from "./_server.ts";
import type { Runner } from "../runner/runner.ts";

/** Stamp lists by name; `<route>.<hop>` for server hops, e.g. `tool-results.authStart`. */
export type Stamps = Map<string, number[]>;

/** An instrumented server and client. */
export interface Probe extends AsyncDisposable {
  stamps: Stamps;
  client: ProgtcClient;
  runner: Runner;
  /** Stamps under `name` now. */
  mark(name: string): void;
  /** The stamps under `name` (empty if none). */
  get(name: string): number[];
  /** Forgets every stamp. */
  clear(): void;
}

/** Starts an instrumented server and installs the wraps; disposing undoes both. */
export async function startProbe(): Promise<Probe> {
  const stamps: Stamps = new Map();
  const mark = (name: string) => {
    let list = stamps.get(name);
    if (!list) stamps.set(name, list = []);
    list.push(performance.now());
  };
  let route = "startup";
  const restore = wrapCore(mark, () => route);

  const app = await createApp({ apiKey: BENCH_API_KEY, pythonPoolSize: 0, log: () => {} });
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
  }, (request) => {
    route = new URL(request.url).pathname.slice(1);
    mark(`${route}.in`);
    // The handler runs synchronously up to its first await (the key check comes before it),
    // so `route` names the request the key check belongs to.
    const response = app.fetch(request);
    route = "other";
    return response;
  });
  const { port } = await listening.promise;
  await app.runner.warm();
  const client = new ProgtcClient({
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: BENCH_API_KEY,
    fetch: (input, init) => {
      mark(`${new URL(String(input)).pathname.slice(1)}.sent`);
      return fetch(input, init);
    },
  });
  return {
    stamps,
    client,
    runner: app.runner,
    mark,
    get: (name) => stamps.get(name) ?? [],
    clear: () => stamps.clear(),
    async [Symbol.asyncDispose]() {
      try {
        await app.close();
        await server.shutdown();
      } finally {
        restore();
      }
    },
  };
}

function wrapCore(mark: (name: string) => void, route: () => string): () => void {
  const spawn = Sandbox.spawn;
  const send = Sandbox.prototype.send;
  const listen = Sandbox.prototype.listen;
  const sseSend = EventStream.prototype.send;
  const allows = KeyCheck.prototype.allows;
  const parseExecute = ExecuteCodeRequest.safeParse;
  const parseResult = ToolResultRequest.safeParse;
  // The synchronous part of a spawn (process creation) blocks whoever triggered it.
  Sandbox.spawn = (options) => {
    mark("pool.spawnStart");
    const sandbox = spawn.call(Sandbox, options);
    mark("pool.spawnReturned");
    return sandbox;
  };
  Sandbox.prototype.send = function (this: Sandbox, message: ServerMessage) {
    mark(`sandbox.${message.type}`);
    return send.call(this, message);
  };
  Sandbox.prototype.listen = function (this: Sandbox, listener: (event: SandboxEvent) => void) {
    return listen.call(this, (event) => {
      mark(`sandbox.event.${event.type}`);
      listener(event);
    });
  };
  EventStream.prototype.send = function (this: EventStream, frame: unknown) {
    sseSend.call(this, frame);
    mark(`sse.${(frame as { type?: string }).type}`);
  };
  KeyCheck.prototype.allows = function (this: KeyCheck, headers: Headers) {
    const name = route();
    mark(`${name}.authStart`);
    const result = allows.call(this, headers);
    mark(`${name}.authEnd`);
    return result;
  };
  ExecuteCodeRequest.safeParse = function (this: unknown, ...args) {
    mark("execute-code.parsed");
    return parseExecute.apply(this, args);
  } as typeof parseExecute;
  ToolResultRequest.safeParse = function (this: unknown, ...args) {
    mark("tool-results.parsed");
    return parseResult.apply(this, args);
  } as typeof parseResult;
  return () => {
    Sandbox.spawn = spawn;
    Sandbox.prototype.send = send;
    Sandbox.prototype.listen = listen;
    EventStream.prototype.send = sseSend;
    KeyCheck.prototype.allows = allows;
    ExecuteCodeRequest.safeParse = parseExecute;
    ToolResultRequest.safeParse = parseResult;
  };
}

/** A hop: a label and the stamps it goes from and to, each of call `k` or `k + 1`. */
export type Hop = [label: string, from: string, fromNext: 0 | 1, to: string, toNext: 0 | 1];

/** Durations of each hop for `count` steps `k = 0 … count − 1`. */
export function hopDurations(probe: Probe, hops: Hop[], count: number): number[][] {
  return hops.map(([, from, a, to, b]) => {
    const f = probe.get(from);
    const t = probe.get(to);
    const out: number[] = [];
    for (let k = 0; k < count; k++) out.push(t[k + b]! - f[k + a]!);
    return out;
  });
}
