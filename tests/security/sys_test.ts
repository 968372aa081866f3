/**
 * System information attempts: a program learns nothing about the host that needs `sys`.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { assertNotCapable, assertStillServes, attempt, startServer } from "./_attempt.ts";

Deno.test("Deno.hostname() is denied sys access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `console.log(Deno.hostname());`);
  assertNotCapable(result, "sys", "hostname");
  strictEqual(result.stdout, "");
  await assertStillServes(server);
});

Deno.test("Deno.osRelease() is denied sys access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `console.log(Deno.osRelease());`);
  assertNotCapable(result, "sys", "osRelease");
  strictEqual(result.stdout, "");
  await assertStillServes(server);
});

Deno.test("Deno.loadavg() is denied sys access", async () => {
  await using server = await startServer();
  const { result } = await attempt(server, `console.log(Deno.loadavg());`);
  assertNotCapable(result, "sys", "loadavg");
  strictEqual(result.stdout, "");
  await assertStillServes(server);
});

Deno.test("node:os cpus() is denied sys access", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import os from "node:os";
console.log(JSON.stringify(os.cpus()));`,
  );
  assertNotCapable(result, "sys", "cpus");
  strictEqual(result.stdout, "");
  await assertStillServes(server);
});

Deno.test("Other host facts (interfaces, memory, ids, uptime, home) are denied sys access", async () => {
  await using server = await startServer();
  const { result } = await attempt(
    server,
    `import os from "node:os";
const probes = {
  networkInterfaces: () => Deno.networkInterfaces(),
  systemMemoryInfo: () => Deno.systemMemoryInfo(),
  uid: () => Deno.uid(),
  gid: () => Deno.gid(),
  osUptime: () => Deno.osUptime(),
  homedir: () => os.homedir(),
  userInfo: () => os.userInfo(),
  totalmem: () => os.totalmem(),
};
for (const [name, probe] of Object.entries(probes)) {
  try {
    console.log(name, "LEAKED", JSON.stringify(probe()));
  } catch (e) {
    console.log(name, e.name, e.message.split(",")[0]);
  }
}`,
  );
  strictEqual(result.type, "success", result.stderr);
  deepStrictEqual(result.stdout.trimEnd().split("\n"), [
    `networkInterfaces NotCapable Requires sys access to "networkInterfaces"`,
    `systemMemoryInfo NotCapable Requires sys access to "systemMemoryInfo"`,
    `uid NotCapable Requires sys access to "uid"`,
    `gid NotCapable Requires sys access to "gid"`,
    `osUptime NotCapable Requires sys access to "osUptime"`,
    `homedir NotCapable Requires sys access to "homedir"`,
    `userInfo NotCapable Requires sys access to "uid"`,
    `totalmem NotCapable Requires sys access to "systemMemoryInfo"`,
  ]);
  await assertStillServes(server);
});

Deno.test("the runtime's install path is not a fact a program learns (execPath, argv, title), in both languages", async () => {
  await using server = await startServer({ pythonPoolSize: 1 });
  const installed = Deno.execPath();
  const { result } = await attempt(
    server,
    `import process from "node:process";
console.log(JSON.stringify([process.execPath, process.argv0, process.argv[0], process.title]));`,
  );
  strictEqual(result.type, "success", result.stderr);
  deepStrictEqual(JSON.parse(result.stdout), ["deno", "deno", "deno", "deno"]);
  const py = await attempt(
    server,
    `import js
print(js.process.execPath, js.process.argv0, js.process.argv[0], js.process.title)`,
    { language: "python" },
  );
  strictEqual(py.result.type, "success", py.result.stderr);
  strictEqual(py.result.stdout, "deno deno deno deno\n");
  for (const text of [result.stdout, py.result.stdout]) {
    strictEqual(text.includes(installed), false, `leaks ${installed}: ${text}`);
  }
  await assertStillServes(server);
});

Deno.test("the host's command line (its socket's path, its server's pid) is not a fact a program learns", async () => {
  await using server = await startServer({ pythonPoolSize: 1 });
  const { result } = await attempt(
    server,
    `import process from "node:process";
console.log(JSON.stringify([Deno.args, process.argv.slice(1), Deno.ppid]));`,
  );
  strictEqual(result.type, "success", result.stderr);
  deepStrictEqual(JSON.parse(result.stdout), [[], [], 0]);
  const py = await attempt(
    server,
    `import js, sys
print(list(js.Deno.args), list(js.process.argv)[1:], sys.argv, js.Deno.ppid)`,
    { language: "python" },
  );
  strictEqual(py.result.type, "success", py.result.stderr);
  strictEqual(py.result.stdout, "[] [] [''] 0\n");
  for (const text of [result.stdout, py.result.stdout]) {
    strictEqual(text.includes("hosts.sock"), false, text);
    strictEqual(text.includes(String(Deno.pid)), false, text);
  }
  await assertStillServes(server);
});
