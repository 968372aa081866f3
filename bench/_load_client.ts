/**
 * The load test's client side: one execution driven over raw HTTP and a raw SSE parser (not
 * `ProgtcClient`, which stops reading at the first terminal frame), checking everything the
 * server sends. Its program makes `calls` sequential tool calls `step(index, k)`; the tool
 * answers each after a random delay with a value derived from its arguments; the program
 * prints every result, so the expected stdout is known in advance.
 *
 * @module
 */

/** What went wrong in one execution (empty when nothing did). */
export type Fault =
  | "http_status"
  | "not_sse"
  | "no_terminal"
  | "terminal_not_success"
  | "several_terminals"
  | "frame_after_terminal"
  | "bad_frame"
  | "misrouted_call"
  | "duplicate_call"
  | "call_out_of_order"
  | "missing_call"
  | "result_post_failed"
  | "stdout_mismatch";

/** The outcome of one load-test execution. */
export interface LoadOutcome {
  index: number;
  /** POST /execute-code to the end of the stream, in ms. */
  latency: number;
  executionId: string | undefined;
  toolCalls: number;
  terminalFrames: number;
  keepalives: number;
  faults: Fault[];
  /** What the first fault looked like (status and body, or the terminal frame), for the log. */
  detail?: string;
}

/** The value the tool answers `step(index, k)` with. */
export function answer(index: number, k: number): string {
  return `e${index}c${k}:${(index * 7919 + k * 104729) % 1000003}`;
}

/** The program of execution `index`. */
export function loadProgram(index: number, calls: number): string {
  return `import { step } from "tools";\n` +
    `const results = [];\n` +
    `for (let k = 0; k < ${calls}; k++) results.push(await step(${index}, k));\n` +
    `console.log(JSON.stringify(results));\n`;
}

/** The stdout execution `index` must end with. */
export function expectedStdout(index: number, calls: number): string {
  return JSON.stringify(Array.from({ length: calls }, (_, k) => answer(index, k))) + "\n";
}

/** A deterministic pseudo-random generator in [0, 1) (mulberry32), so runs can be compared. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TERMINAL = new Set(["success", "syntax_error", "runtime_error", "timeout_error"]);

/** Splits an SSE byte stream into events: `data` (joined) or a comment. */
async function* rawEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ data: string } | { comment: string }> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) yield { comment: line };
        else if (line.startsWith("data: ")) data.push(line.slice(6));
        else if (line !== "") data.push(`\u0000unexpected line ${line}`);
      }
      if (data.length > 0) yield { data: data.join("\n") };
    }
  }
  if (buffer.trim() !== "") yield { data: `\u0000trailing bytes ${buffer}` };
}

/** Options of {@linkcode loadExecution}. */
export interface LoadExecutionOptions {
  url: string;
  apiKey: string;
  index: number;
  calls: number;
  /** Longest tool delay, in ms. */
  maxDelayMs: number;
  random: () => number;
  /** The HTTP client to use (its connections can then be closed after the load). */
  client?: Deno.HttpClient;
}

/** Runs execution `index` to the end of its stream and checks every frame. */
export async function loadExecution(options: LoadExecutionOptions): Promise<LoadOutcome> {
  const { url, apiKey, index, calls, maxDelayMs, random } = options;
  const client = options.client ? { client: options.client } : {};
  const headers = { "x-progtc-api-key": apiKey, "content-type": "application/json" };
  const faults = new Set<Fault>();
  const outcome: LoadOutcome = {
    index,
    latency: NaN,
    executionId: undefined,
    toolCalls: 0,
    terminalFrames: 0,
    keepalives: 0,
    faults: [],
  };
  const started = performance.now();
  const response = await fetch(`${url}/execute-code`, {
    method: "POST",
    headers,
    body: JSON.stringify({ code: loadProgram(index, calls), tool_names: ["step"] }),
    ...client,
  });
  if (!response.ok || !response.body) {
    outcome.detail = `${response.status} ${(await response.text()).slice(0, 300)}`;
    outcome.faults = ["http_status"];
    outcome.latency = performance.now() - started;
    return outcome;
  }
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) faults.add("not_sse");
  const posts: Promise<void>[] = [];
  const seen = new Set<number>();
  let stdout: string | undefined;
  for await (const event of rawEvents(response.body)) {
    if ("comment" in event) {
      outcome.keepalives++;
      continue;
    }
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(event.data);
    } catch {
      faults.add("bad_frame");
      continue;
    }
    if (outcome.terminalFrames > 0) faults.add("frame_after_terminal");
    if (typeof frame.execution_id === "string") {
      outcome.executionId ??= frame.execution_id;
      if (frame.execution_id !== outcome.executionId) faults.add("misrouted_call");
    }
    if (frame.type === "tool_call") {
      outcome.toolCalls++;
      const args = frame.args as unknown[];
      const [who, k] = Array.isArray(args) ? args : [];
      if (frame.tool_name !== "step" || typeof k !== "number") faults.add("bad_frame");
      else if (who !== index) faults.add("misrouted_call");
      else if (seen.has(k)) faults.add("duplicate_call");
      else if (k !== seen.size) faults.add("call_out_of_order");
      if (typeof k === "number") seen.add(k);
      posts.push(answerLater(frame, who as number, k as number));
    } else if (typeof frame.type === "string" && TERMINAL.has(frame.type)) {
      outcome.terminalFrames++;
      if (frame.type !== "success") {
        faults.add("terminal_not_success");
        outcome.detail ??= event.data.slice(0, 300);
      }
      stdout = String(frame.stdout);
    } else faults.add("bad_frame");
  }
  outcome.latency = performance.now() - started;
  await Promise.all(posts);
  if (outcome.terminalFrames === 0) faults.add("no_terminal");
  if (outcome.terminalFrames > 1) faults.add("several_terminals");
  if (seen.size < calls) faults.add("missing_call");
  if (stdout !== undefined && stdout !== expectedStdout(index, calls)) {
    faults.add("stdout_mismatch");
  }
  outcome.faults = [...faults];
  return outcome;

  async function answerLater(frame: Record<string, unknown>, who: number, k: number) {
    await new Promise((resolve) => setTimeout(resolve, random() * maxDelayMs));
    const result = await fetch(`${url}/tool-results`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        execution_id: frame.execution_id,
        tool_call_id: frame.id,
        result: answer(who, k),
      }),
      ...client,
    });
    const text = await result.text();
    if (result.status !== 200 || text !== "null") faults.add("result_post_failed");
  }
}
