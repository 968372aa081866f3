/**
 * `progtc mcp` with upstream servers the npm three do not cover: tools in pages that change
 * while it runs (tests/_mcp_fixture_server.ts), a server over Streamable HTTP, Python as the
 * default language, and an approval that comes too late.
 *
 * progtc-test: waits (2.7 s of CPU in 7.9 s on a clean CI run; see tests/run.ts).
 *
 * @module
 */
import { match, strictEqual } from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { execute, ROOT, writeConfig as config } from "./_mcp.ts";
import { DenoProcess, freePort } from "./_process.ts";

Deno.test("progtc mcp: tools listed page by page, and kept current on tools/list_changed", async () => {
  const dir = await Deno.makeTempDir();
  const path = await config(dir, "grow.json", {
    mcpServers: {
      fixture: {
        command: Deno.execPath(),
        args: ["run", "-A", `${ROOT}tests/_mcp_fixture_server.ts`],
      },
    },
  });
  const client = new Client({ name: "test", version: "1.0.0" });
  const changed = Promise.withResolvers<void>();
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => changed.resolve());
  await client.connect(
    new StdioClientTransport({
      command: Deno.execPath(),
      args: ["run", "-A", `${ROOT}cli.ts`, "mcp", "--config", path],
      stderr: "ignore",
    }),
  );
  try {
    // Four tools over two pages.
    match((await client.listTools()).tools[0]!.description!, /export function third\(/);
    const added = await execute(
      client,
      `import { fixture } from "tools"; console.log(await fixture.add_tool({ name: "fourth" }));`,
    );
    match(added.text, /added fourth/);
    await changed.promise;
    match((await client.listTools()).tools[0]!.description!, /export function fourth\(/);
    const ran = await execute(
      client,
      `import { fixture } from "tools"; console.log(await fixture.fourth());`,
    );
    match(ran.text, /--- stdout ---\nfourth\n/);
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("progtc mcp --language python: execute's rules and example are Python, and the example runs", async () => {
  const dir = await Deno.makeTempDir();
  const path = await config(dir, "servers.json", {
    mcpServers: {
      fixture: {
        command: Deno.execPath(),
        args: ["run", "-A", `${ROOT}tests/_mcp_fixture_server.ts`],
      },
    },
  });
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: Deno.execPath(),
      args: ["run", "-A", `${ROOT}cli.ts`, "mcp", "--config", path, "--language", "python"],
      stderr: "ignore",
    }),
  );
  try {
    const description: string = (await client.listTools()).tools[0]!.description!;
    match(description, /^Runs a Python program in a sandbox/);
    match(description, /class fixture:\n/);
    const example = description.match(/```python\n([\s\S]*?)\n```/)![1]!;
    strictEqual(
      example,
      "from tools import fixture\n\nresult = await fixture.first()\nprint(result)",
    );
    const ran = await execute(client, example);
    strictEqual(ran.isError, false, ran.text);
    match(ran.text, /--- stdout ---\nfirst\n/);
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("progtc mcp: an approval that comes after the call timed out does not run the call", async () => {
  const dir = await Deno.makeTempDir();
  const path = await config(dir, "servers.json", {
    mcpServers: {
      fixture: {
        command: Deno.execPath(),
        args: ["run", "-A", `${ROOT}tests/_mcp_fixture_server.ts`],
        confirm: ["add_tool"],
      },
    },
  });
  const client = new Client({ name: "test", version: "1.0.0" }, {
    capabilities: { elicitation: { form: {} } },
  });
  const answered = Promise.withResolvers<void>();
  client.setRequestHandler(ElicitRequestSchema, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the person takes their time
    setTimeout(() => answered.resolve(), 1000); // past the relisting a late add_tool would cause
    return { action: "accept" as const };
  });
  await client.connect(
    new StdioClientTransport({
      command: Deno.execPath(),
      args: ["run", "-A", `${ROOT}cli.ts`, "mcp", "--config", path, "--tool-call-timeout", "0.5"],
      stderr: "ignore",
    }),
  );
  try {
    const ran = await execute(
      client,
      `import { fixture } from "tools";
try { await fixture.add_tool({ name: "late" }); } catch (error) { console.log(error.name); }
await new Promise((resolve) => setTimeout(resolve, 2000)); // still running when the person answers`,
    );
    match(ran.text, /--- stdout ---\nTimeoutError\n/);
    await answered.promise;
    const after = await execute(
      client,
      `import { fixture } from "tools"; console.log(Object.keys(fixture));`,
    );
    match(after.text, /"first", "second", "third", "add_tool" \]/);
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("progtc mcp: an upstream server over Streamable HTTP (server-everything's streamableHttp)", async () => {
  const port = freePort();
  await using everything = new DenoProcess(
    [
      "run",
      "-A",
      "--quiet",
      "npm:@modelcontextprotocol/server-everything@2026.8.31",
      "streamableHttp",
    ],
    { ...Deno.env.toObject(), PORT: String(port) },
  );
  await everything.waitFor(/listening on port/);
  const dir = await Deno.makeTempDir();
  const path = await config(dir, "servers.json", {
    mcpServers: {
      remote: { url: `http://127.0.0.1:${port}/mcp`, headers: { "x-client": "${CLIENT_NAME}" } },
    },
  });
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: Deno.execPath(),
      args: ["run", "-A", `${ROOT}cli.ts`, "mcp", "--config", path],
      env: { ...Deno.env.toObject(), CLIENT_NAME: "progtc-test" },
      stderr: "ignore",
    }),
  );
  try {
    const ran = await execute(
      client,
      `import { remote } from "tools"; console.log(await remote.echo({ message: "over HTTP" }));`,
    );
    match(ran.text, /--- stdout ---\nEcho: over HTTP\n/);
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true });
    everything.child.kill("SIGTERM");
  }
});
