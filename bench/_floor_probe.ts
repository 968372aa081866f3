/**
 * The floors of the `floors` section, measured outside any server: what Deno itself costs for
 * the two things every TypeScript execution and every tool call of ours needs beyond the echo.
 *
 * - `worker <n>`: CPU per permission-`none` worker started from a blob URL, answering one
 *   message and terminated, one after another (this process's CPU from /proc over `n` workers,
 *   after a warm-up): a program's fresh realm, with nothing of ours in it.
 * - `hops <n>`: the two hops a tool call's result and the next call take beyond HTTP + SSE: a
 *   round trip over a unix socket to another Deno process, and one over a `MessagePort` to a
 *   worker thread; µs per round trip (median of `n`).
 *
 * Prints one JSON line. `deno run --allow-all --unstable-worker-options _floor_probe.ts …`.
 *
 * @module
 */
import { median, selfCpu } from "./_lib.ts";

async function workers(n: number): Promise<{ workerCpuMs: number }> {
  const url = URL.createObjectURL(
    new Blob(["onmessage = () => postMessage(1);"], { type: "text/javascript" }),
  );
  const once = async () => {
    const worker = new Worker(url, {
      type: "module",
      deno: { permissions: "none" },
    } as WorkerOptions);
    const answered = new Promise((resolve) => worker.onmessage = resolve);
    worker.postMessage(0);
    await answered;
    worker.terminate();
  };
  for (let i = 0; i < 20; i++) await once();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = await selfCpu();
  for (let i = 0; i < n; i++) await once();
  // Terminated workers' threads finish their teardown.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { workerCpuMs: (await selfCpu() - before) / n };
}

async function socketRoundTrips(n: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-floor-" });
  const path = `${dir}/s`;
  const listener = Deno.listen({ transport: "unix", path });
  const peer = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", import.meta.filename!, "peer", path],
    stdout: "null",
  }).spawn();
  const conn = await listener.accept();
  const line = new TextEncoder().encode('3 {"type":"tool_result","id":1,"value":1}\n');
  const buffer = new Uint8Array(1024);
  const times: number[] = [];
  for (let i = 0; i < n + 100; i++) {
    const start = performance.now();
    await conn.write(line);
    await conn.read(buffer);
    if (i >= 100) times.push(performance.now() - start);
  }
  conn.close();
  listener.close();
  await peer.status;
  await Deno.remove(dir, { recursive: true });
  return median(times) * 1000;
}

async function portRoundTrips(n: number): Promise<number> {
  const url = URL.createObjectURL(
    new Blob(["onmessage = (e) => e.data.onmessage = (m) => e.data.postMessage(m.data);"], {
      type: "text/javascript",
    }),
  );
  const worker = new Worker(url, { type: "module" });
  const { port1, port2 } = new MessageChannel();
  worker.postMessage(port2, [port2]);
  const times: number[] = [];
  for (let i = 0; i < n + 100; i++) {
    const start = performance.now();
    const back = new Promise((resolve) => port1.onmessage = resolve);
    port1.postMessage({ type: "line", line: '{"type":"tool_result","id":1,"value":1}' });
    await back;
    if (i >= 100) times.push(performance.now() - start);
  }
  port1.close();
  worker.terminate();
  return median(times) * 1000;
}

async function peer(path: string): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path });
  const buffer = new Uint8Array(1024);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) return;
    await conn.write(buffer.subarray(0, n));
  }
}

if (import.meta.main) {
  const [mode, arg] = Deno.args;
  if (mode === "peer") await peer(arg!);
  else if (mode === "worker") console.log(JSON.stringify(await workers(Number(arg))));
  else if (mode === "hops") {
    const n = Number(arg);
    const socketUs = await socketRoundTrips(n);
    const portUs = await portRoundTrips(n);
    console.log(JSON.stringify({ socketUs, portUs }));
  } else throw new Error(`unknown mode ${mode}`);
}
