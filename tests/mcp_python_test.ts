/**
 * `progtc mcp` over stdio, driven by the Python `mcp` SDK's client (PyPI, in a venv that
 * tests/interop/venv.ts builds): tests/interop/mcp_client.py connects with `mcp.Client` and this
 * test remote-controls it line by line, so that every scenario of issue 20 runs with the Python
 * client exactly as with the TypeScript one (its elicitation callback, progress callback and
 * task cancellation do the MCP work).
 *
 * progtc-test: waits (2.7 s of CPU in 8.5 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { readLines } from "../sandbox/lines.ts";
import { ensureMcpVenv } from "./interop/venv.ts";
import { childrenMatching, mcpFixture, Person, ROOT, type ScenarioClient } from "./_mcp.ts";
import { SCENARIOS } from "./_mcp_scenarios.ts";

type Event = Record<string, unknown> & { op: string; id?: number };

/** The Python client, seen through the scenarios' interface. */
class PythonClient implements ScenarioClient, AsyncDisposable {
  readonly process: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiting = new Map<number, (event: Event) => void>();
  #progress = new Map<number, (p: Progress) => void>();
  #listed: ((event: Event) => void)[] = [];
  #ready = Promise.withResolvers<void>();
  #ids = 0;
  stderr = "";

  constructor(python: string, person: Person, args: string[]) {
    this.process = new Deno.Command(python, {
      args: [`${ROOT}tests/interop/mcp_client.py`, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { PYTHONDONTWRITEBYTECODE: "1" },
    }).spawn();
    this.#writer = this.process.stdin.getWriter();
    this.#read(person);
    this.#readStderr(this.process.stderr);
  }

  async #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) this.stderr += text;
  }

  async #read(person: Person): Promise<void> {
    for await (const line of readLines(this.process.stdout)) {
      const event = JSON.parse(line) as Event;
      if (event.op === "ready") this.#ready.resolve();
      else if (event.op === "listed") this.#listed.shift()?.(event);
      else if (event.op === "progress") {
        this.#progress.get(event.id!)?.({ progress: 0, message: event.message as string });
      } else if (event.op === "elicit") {
        await this.#send({
          op: "answer",
          eid: event.eid,
          action: person.answer(event.message as string),
        });
      } else this.#waiting.get(event.id!)?.(event);
    }
    this.#ready.reject(new Error(`The Python client ended:\n${this.stderr}`));
  }

  ready(): Promise<void> {
    return this.#ready.promise;
  }

  #send(command: Record<string, unknown>): Promise<void> {
    return this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
  }

  async listTools() {
    const listed = new Promise<Event>((resolve) => this.#listed.push(resolve));
    await this.#send({ op: "list" });
    return (await listed) as unknown as { tools: { name: string; description?: string }[] };
  }

  async callTool(
    params: { name: string; arguments?: Record<string, unknown> },
    _schema?: undefined,
    options: { signal?: AbortSignal; onprogress?: (p: Progress) => void } = {},
  ): Promise<unknown> {
    const id = ++this.#ids;
    const done = new Promise<Event>((resolve) => this.#waiting.set(id, resolve));
    if (options.onprogress) this.#progress.set(id, options.onprogress);
    options.signal?.addEventListener("abort", () => void this.#send({ op: "cancel", id }));
    await this.#send({ op: "call", id, ...params, progress: options.onprogress !== undefined });
    const event = await done;
    this.#waiting.delete(id);
    this.#progress.delete(id);
    if (event.op === "error") throw new Error(event.message as string);
    return { content: event.content, isError: event.isError };
  }

  async [Symbol.asyncDispose]() {
    await this.#send({ op: "close" }).catch(() => {});
    await this.#writer.close().catch(() => {});
    await this.process.status;
  }
}

Deno.test("progtc mcp over stdio, with the Python MCP SDK's client", async (t) => {
  const python = await ensureMcpVenv();
  await using fixture = await mcpFixture({ broken: { command: "does-not-exist-xyz" } });
  const person = new Person();
  await using client = new PythonClient(python, person, [
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}cli.ts`,
    "mcp",
    "--config",
    fixture.config,
  ]);
  await client.ready();
  const [pid] = await childrenMatching(client.process.pid, "cli.ts");
  const context = { client, person, fixture, pid: () => pid!, tools: 36 };
  for (const [name, scenario] of SCENARIOS) {
    const ok = await t.step(name, () => scenario(context));
    if (!ok) console.error(client.stderr);
  }
});
