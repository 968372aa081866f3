/**
 * One sandbox host, spawned for real outside any server (`runner/host.ts`): what it offers its
 * pool while it is being killed. A pool that leased a killed host's slot before its exit was
 * seen gave a fresh program to a process about to die (host_faults_test.ts: the program after
 * a protocol violation ended "stopped unexpectedly (signal SIGKILL)", now and then).
 *
 * @module
 */
import { strictEqual, throws } from "node:assert/strict";
import { MemoryCgroups } from "../runner/cgroups.ts";
import { SandboxHost } from "../runner/host.ts";
import { HostListener } from "../runner/host_listener.ts";

Deno.test("a killed host offers no slot and lends none before its exit is seen", async () => {
  const listener = HostListener.open(65536);
  try {
    const host = await SandboxHost.spawn({
      kind: "deno",
      denoPath: Deno.execPath(),
      prlimitPath: null,
      heapMb: 128,
      v8Flags: [],
      env: {},
      dataMb: 0,
      maxLineLength: 65536,
      readyTimeoutMs: 30_000,
      entry: {
        flags: ["--no-npm", "--unstable-worker-options"],
        module: new URL("../sandbox/typescript/bootstrap.ts", import.meta.url).pathname,
      },
      listener,
      maxPrograms: 4,
      checks: true,
      maxRuns: 1000,
      maxAgeMs: 3_600_000,
      cgroups: MemoryCgroups.disabled("not this test's subject"),
      memoryBytes: 2 ** 30,
      programMemoryBytes: 128 * 2 ** 20,
      ownMemoryBytes: 256 * 2 ** 20,
    });
    strictEqual(host.free, 4);
    const sandbox = host.lease();
    strictEqual(host.free, 3);
    host.kill("the test kills it");
    // Its process is not gone yet (the exit is seen on a later turn): the host is still "ready".
    strictEqual(host.state, "ready");
    strictEqual(host.free, 0);
    throws(() => host.lease(), /Cannot lease a host that is ending/);
    const exit = await host.exited;
    strictEqual(exit.signal, "SIGKILL");
    strictEqual(host.state, "dead");
    await sandbox.released;
  } finally {
    listener.close();
  }
});
