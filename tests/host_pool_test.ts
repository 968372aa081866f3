/**
 * `HostPool` over fake hosts, in process: who gets a host, when hosts are started and
 * retired, how it backs off a runtime that does not start. The same on real sandbox processes is
 * in `hosts_test.ts`.
 *
 * @module
 */
import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { HostPool, type PoolHost } from "../runner/host_pool.ts";
import type { HostState } from "../runner/host.ts";
import type { SandboxExit } from "../runner/sandbox.ts";
import { FakeSandbox } from "./_fake_sandbox.ts";
import { delay } from "./_helpers.ts";

let pids = 1;

/** A host that is ready at once, recycles when its lease finishes (reusable), dies when killed. */
class FakeHost implements PoolHost {
  readonly kind = "deno" as const;
  readonly pid = pids++;
  state: HostState = "ready";
  runs = 0;
  why: string | undefined;
  onIdle: (() => void) | undefined;
  readonly exited: Promise<SandboxExit>;
  #exit = Promise.withResolvers<SandboxExit>();
  /** How long a recycle takes. */
  recycleMs = 5;

  constructor() {
    this.exited = this.#exit.promise;
  }

  lease() {
    if (this.state !== "ready") throw new Error(`lease of a ${this.state} host`);
    this.state = "leased";
    this.runs++;
    const sandbox = new FakeSandbox(() => () => Promise.resolve());
    Object.defineProperty(sandbox, "pid", { value: this.pid });
    const finish = sandbox.finish.bind(sandbox);
    sandbox.finish = (reusable: boolean) => {
      finish(reusable);
      if (!reusable) return this.kill("not reusable");
      this.state = "recycling";
      setTimeout(() => {
        if (this.state !== "recycling") return;
        this.state = "ready";
        this.onIdle?.();
      }, this.recycleMs);
    };
    return sandbox;
  }

  kill(why: string) {
    if (this.state === "dead") return;
    this.why ??= why;
    this.state = "dead";
    this.#exit.resolve({
      type: "exited",
      code: 0,
      signal: "SIGKILL",
      stderr: "",
      outOfMemory: false,
    });
  }
}

function pool(options: Partial<ConstructorParameters<typeof HostPool>[0]> = {}) {
  const hosts: FakeHost[] = [];
  let fail = false;
  const p = new HostPool({
    size: 1,
    maxHosts: 16,
    lazy: false,
    idleTimeoutMs: 60_000,
    spawn: async () => {
      await delay(20);
      if (fail) throw new Error("the runtime does not start");
      const host = new FakeHost();
      hosts.push(host);
      return host;
    },
    ...options,
  });
  return { pool: p, hosts, failing: (value: boolean) => fail = value };
}

Deno.test("HostPool serves waiters in order, with recycled hosts before new ones start", async () => {
  const { pool: p, hosts } = pool({ size: 1 });
  p.fill();
  await p.warm();
  const first = await p.acquire();
  strictEqual(hosts.length, 1);
  // Nothing ready: two waiters; the first host comes back (5 ms) before a new one starts (20 ms).
  const waiting = [p.acquire(), p.acquire()];
  first.finish(true);
  const second = await waiting[0]!;
  strictEqual(second.pid, first.pid);
  const third = await waiting[1]!;
  strictEqual(p.stats.leased, 2);
  second.finish(true);
  third.finish(true);
  p.close();
  deepStrictEqual(hosts.map((h) => h.state), hosts.map(() => "dead"));
});

Deno.test("HostPool replaces a host that died, and fails waiters at once while a broken runtime backs off", async () => {
  const { pool: p, hosts, failing } = pool({ size: 1 });
  p.fill();
  await p.warm();
  const lease = await p.acquire();
  lease.finish(false); // killed: not reusable
  await delay(60);
  strictEqual(p.stats.ready, 1, "the dead host was not replaced");
  strictEqual(hosts.filter((h) => h.state !== "dead").length, 1);
  p.close();

  const broken = pool({ size: 1 });
  broken.failing(true);
  broken.pool.fill();
  await delay(40);
  await rejects(broken.pool.acquire(), /does not start/);
  broken.pool.close();
  failing(false);
});

Deno.test("HostPool keeps hosts for the demand it saw and retires them after the idle timeout", async () => {
  const { pool: p, hosts } = pool({ size: 1, idleTimeoutMs: 300 });
  p.fill();
  await p.warm();
  const leases = await Promise.all(Array.from({ length: 5 }, () => p.acquire()));
  strictEqual(hosts.length >= 5, true);
  for (const lease of leases) lease.finish(true);
  await delay(50);
  strictEqual(p.stats.ready >= 5, true, JSON.stringify(p.stats));
  // The burst ages out of the demand window; the pool goes back to its size.
  const deadline = Date.now() + 3000;
  while (p.pids.length > 1 && Date.now() < deadline) {
    await delay(50);
  }
  strictEqual(p.pids.length, 1);
  p.close();
});
