/**
 * `progtc mcp` start mistakes: each is one line on stderr naming the flag, the variable or the
 * config key, exit code 2, no stack trace; `--help`; and the README's client config, as written.
 *
 * @module
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { parseConfig } from "../mcp/config.ts";
import { execute, ROOT, writeConfig as config } from "./_mcp.ts";

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
