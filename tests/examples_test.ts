import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { ProgtcClient, runStepToolCalls } from "../client/mod.ts";
import { API_KEY, startServer } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url);

async function deno(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), { args, env, cwd: ROOT }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

const APPROVAL = [
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "examples/approval.ts",
];

for (const decision of ["approve", "reject"] as const) {
  Deno.test(`examples/approval.ts pauses for approval, exits, and resumes on another server (${decision})`, async () => {
    const dir = await Deno.makeTempDir();
    const file = `${dir}/pending.json`;
    try {
      {
        await using first = await startServer();
        const env = { PROGTC_URL: first.url, PROGTC_API_KEY: API_KEY };
        const started = await deno([...APPROVAL, "start", file], env);
        strictEqual(started.code, 0, started.stderr);
        match(
          started.stdout,
          /^waiting for approval: send_email\(\["ada@example.com","Your invoice is ready"\]\)/,
        );
        const saved = JSON.parse(await Deno.readTextFile(file));
        deepStrictEqual(Object.keys(saved).sort(), ["code", "state", "toolCalls", "toolNames"]);
        strictEqual(saved.toolCalls[0].tool_name, "send_email");
      }
      // The first server is gone: a new instance with the same key replays from the state.
      await using second = await startServer();
      const env = { PROGTC_URL: second.url, PROGTC_API_KEY: API_KEY };
      const resumed = await deno([...APPROVAL, decision, file], env);
      strictEqual(resumed.code, 0, resumed.stderr);
      const expected = decision === "approve"
        ? "sent: message to ada@example.com (Your invoice is ready) queued as #42"
        : "not sent: rejected by a human";
      strictEqual(resumed.stdout, `success\nfound Ada Lovelace\n${expected}\n`);
      ok(second.logs.some((line) => line.includes("(replay")), second.logs.join("\n"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("examples/serverless_step.ts serves the step API alone under deno serve", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "examples/serverless_step.ts",
    ],
    env: { PROGTC_API_KEY: API_KEY },
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const client = new ProgtcClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    await client.waitForServer({ timeoutMs: 20_000 });
    const tools = { double: (n: number) => n * 2 };
    const code = `import { double } from "tools"; console.log(await double(await double(5)));`;
    let step = await client.executeCodeStep({ code, toolNames: ["double"] });
    let steps = 0;
    while (step.type === "tool_call") {
      steps++;
      const answers = await runStepToolCalls(step.tool_calls, tools);
      step = await client.executeCodeStep({
        code,
        toolNames: ["double"],
        state: step.state,
        ...answers,
      });
    }
    strictEqual(steps, 2);
    deepStrictEqual(step, { type: "success", stdout: "20\n", stderr: "" });
    const stream = await fetch(`http://127.0.0.1:${port}/execute-code`, {
      method: "POST",
      headers: { "x-progtc-api-key": API_KEY, "content-type": "application/json" },
      body: JSON.stringify({ code: "", tool_names: [] }),
    });
    strictEqual(stream.status, 404);
    await stream.body?.cancel();
  } finally {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const status = await child.status;
    clearTimeout(timer);
    strictEqual(status.signal, null, "deno serve did not exit on SIGTERM");
    strictEqual(status.code, 0);
  }
});
