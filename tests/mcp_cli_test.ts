/**
 * `progtc mcp` start mistakes: each is one line on stderr naming the flag, the variable or the
 * config key, exit code 2, no stack trace; `--help`; and an upstream server whose tools come in
 * pages and change while it runs (tests/_mcp_fixture_server.ts).
 *
 * @module
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { parseConfig } from "../mcp/config.ts";
import { execute, ROOT } from "./_mcp.ts";
import { DenoProcess, freePort } from "./_process.ts";

async function mcp(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli.ts`, "mcp", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PROGTC_API_KEY: "", ...env },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

async function config(dir: string, name: string, json: unknown): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, typeof json === "string" ? json : JSON.stringify(json));
  return path;
}

Deno.test("progtc mcp: start mistakes are one line naming the flag or key, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = await config(dir, "ok.json", { mcpServers: {} });
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [[], /^progtc mcp: --config is required/],
      [["--config", ok, "--http", "nope"], /^progtc mcp: Invalid value for --http: nope/],
      [["--config", ok, "--language", "ruby"], /^progtc mcp: Invalid value for --language: ruby/],
      [["--config", ok, "--bogus"], /^progtc mcp: Unknown option '--bogus'/],
      [["--config", ok, "--start-timeout", "9999"], /--start-timeout: 9999 \(from 0.1 to 600\)/],
      [
        ["--config", ok, "--server", "http://127.0.0.1:9"],
        /--server needs the server's key in PROGTC_API_KEY/,
      ],
      [
        ["--config", ok, "--server", "http://127.0.0.1:9"],
        /^progtc mcp: --server: the progtc server at http:\/\/127\.0\.0\.1:9 does not answer/,
        { PROGTC_API_KEY: "k" },
      ],
      [["--config", `${dir}/missing.json`], /missing\.json: cannot read it/],
      [["--config", await config(dir, "bad.json", "{")], /bad\.json: not JSON/],
      [
        ["--config", await config(dir, "big.json", " ".repeat(1024 * 1024 + 1))],
        /big\.json: larger than 1048576 bytes/,
      ],
      [
        [
          "--config",
          await config(dir, "key.json", { mcpServers: { a: { command: "x", autoApprove: [] } } }),
        ],
        /key\.json: mcpServers\.a\.autoApprove: unknown key/,
      ],
      [
        [
          "--config",
          await config(dir, "both.json", { mcpServers: { a: { command: "x", url: "http://h" } } }),
        ],
        /both\.json: mcpServers\.a: give either command \(stdio\) or url/,
      ],
      [
        [
          "--config",
          await config(dir, "sse.json", { mcpServers: { a: { type: "sse", url: "http://h" } } }),
        ],
        /mcpServers\.a\.type: "sse" is not supported/,
      ],
      [
        [
          "--config",
          await config(dir, "var.json", {
            mcpServers: { a: { url: "http://h", headers: { x: "${NOPE_VAR}" } } },
          }),
        ],
        /mcpServers\.a\.headers\.x: the environment variable NOPE_VAR is not set/,
      ],
      [
        [
          "--config",
          await config(dir, "ns.json", {
            mcpServers: { "my-server": { command: "x" }, my_server: { command: "y" } },
          }),
        ],
        /ns\.json: servers "my-server" and "my_server" both map to the namespace my_server/,
      ],
      [
        [
          "--config",
          await config(dir, "clash.json", {
            mcpServers: {
              clash: {
                command: Deno.execPath(),
                args: ["run", "-A", `${ROOT}tests/_mcp_fixture_server.ts`, "clash"],
              },
            },
          }),
        ],
        /clash\.json: server "clash": tools "get-env" and "get_env" both map to clash\.get_env/,
      ],
    ];
    for (const [args, expected, env] of cases) {
      const { code, stderr, stdout } = await mcp(args, env);
      const last = stderr.trim().split("\n").at(-1)!;
      strictEqual(code, 2, `${args.join(" ")}: ${stderr}`);
      match(last, expected);
      strictEqual(stderr.includes("    at "), false, stderr);
      strictEqual(stdout, "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("progtc mcp --help, and progtc --help names it", async () => {
  const help = await mcp(["--help"]);
  strictEqual(help.code, 0);
  match(help.stderr, /--config <file>\s+The MCP servers \(required\)/);
  const top = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli.ts`, "--help"],
    stdout: "piped",
  }).output();
  match(new TextDecoder().decode(top.stdout), /progtc mcp --config servers\.json \[options\]/);
});

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

Deno.test("README: the client config launches progtc mcp from a checkout; servers.json parses", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!));
  const servers = blocks.find((b) => b.mcpServers?.memory);
  deepStrictEqual(parseConfig(servers, {}).servers.map((s) => s.name), ["memory", "files"]);
  const { command, args } = blocks.find((b) => b.mcpServers?.progtc).mcpServers.progtc;
  strictEqual(command, "deno");
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
      args: (args as string[]).map((arg) =>
        arg.replace("/path/to/progtc/", ROOT).replace("/path/to/servers.json", path)
      ),
      cwd: dir, // a desktop client starts it anywhere
      stderr: "ignore",
    }),
  );
  try {
    const ran = await execute(
      client,
      `import { fixture } from "tools"; console.log(await fixture.first());`,
    );
    match(ran.text, /--- stdout ---\nfirst\n/);
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
