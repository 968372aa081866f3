/**
 * `HostPool` over fake hosts, in process: who gets a host, when hosts are started and
 * retired, how it backs off a runtime that does not start. The same on real sandbox processes is
 * in `hosts_test.ts`.
 *
 * @module
 */
import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { HostPool } from "../runner/host_pool.ts";
import type { PoolHost } from "../runner/pool_host.ts";
import type { HostState } from "../runner/host.ts";
import type { SandboxExit } from "../runner/sandbox.ts";
import { FakeSandbox } from "./_fake_sandbox.ts";
import { delay } from "./_helpers.ts";

let pids = 1;

/**
 * A host that is ready at once and runs up to `slots` programs; a slot frees a few ms after its
 * lease finishes (as a real host frees it once the worker's thread is gone); it dies when killed.
 */
class FakeHost implements PoolHost {
  readonly kind = "deno" as const;
  readonly pid = pids++;
  state: HostState = "ready";
  runs = 0;
  busy = 0;
  why: string | undefined;
  onFree: (() => void) | undefined;
  readonly exited: Promise<SandboxExit>;
  #exit = Promise.withResolvers<SandboxExit>();
  /** How long a slot takes to free after its lease finishes. */
  releaseMs = 5;
  /** Whether its memory has room for one more program; how often the pool asked. */
  room = true;
  roomAsked = 0;

  constructor(readonly slots: number) {
    this.exited = this.#exit.promise;
  }

  get free(): number {
    return this.state === "ready" ? this.slots - this.busy : 0;
  }

  hasRoom(): boolean {
    this.roomAsked++;
    return this.room;
  }

  get usageBytes(): number {
    return this.state === "dead" ? 0 : (10 + this.busy) * 1024 * 1024;
  }

  lease() {
    if (this.free <= 0) throw new Error(`lease of a ${this.state} host with no free slot`);
    this.busy++;
    this.runs++;
    const sandbox = new FakeSandbox(() => () => Promise.resolve());
    Object.defineProperty(sandbox, "pid", { value: this.pid });
    const finish = sandbox.finish.bind(sandbox);
    sandbox.finish = () => {
      finish();
      setTimeout(() => {
        if (this.state === "dead") return;
        this.busy--;
        this.onFree?.();
      }, this.releaseMs);
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
      programs: this.busy,
    });
  }
}

function pool(options: Partial<ConstructorParameters<typeof HostPool>[0]> = {}) {
  const hosts: FakeHost[] = [];
  let fail = false;
  const slots = options.programsPerHost ?? 2;
  const p = new HostPool({
    size: 1,
    maxHosts: 16,
    programsPerHost: slots,
    lazy: false,
    idleTimeoutMs: 60_000,
    spawn: async () => {
      await delay(20);
      if (fail) throw new Error("the runtime does not start");
      const host = new FakeHost(slots);
      hosts.push(host);
      return host;
    },
    ...options,
  });
  return { pool: p, hosts, failing: (value: boolean) => fail = value };
}

Deno.test("HostPool serves waiters in order, with freed slots before new hosts start", async () => {
  const { pool: p, hosts } = pool({ size: 1, programsPerHost: 2, maxHosts: 1 });
  p.fill();
  await p.warm();
  const leases = [await p.acquire(), await p.acquire()];
  deepStrictEqual(leases.map((l) => l.pid), [hosts[0]!.pid, hosts[0]!.pid]);
  // The host is full and no other may start: the waiters get the slots as they free, in order.
  let served = 0;
  const waiting = [p.acquire(), p.acquire()].map((w, i) =>
    w.then((l) => (served++, [i, l] as const))
  );
  await delay(30);
  deepStrictEqual([served, p.stats.waiting, p.stats.programs], [0, 2, 2]);
  leases[1]!.finish();
  const [first, l1] = await waiting[0]!;
  deepStrictEqual([first, served, l1.pid], [0, 1, hosts[0]!.pid]);
  leases[0]!.finish();
  const [second] = await waiting[1]!;
  strictEqual(second, 1);
  strictEqual(hosts.length, 1);
  await p.close();
  deepStrictEqual(hosts.map((h) => h.state), ["dead"]);
});

Deno.test("HostPool spreads programs over its ready hosts, the least busy first", async () => {
  const { pool: p, hosts } = pool({ size: 2, programsPerHost: 8 });
  p.fill();
  await p.warm();
  strictEqual(hosts.length, 2);
  const leases = await Promise.all(Array.from({ length: 4 }, () => p.acquire()));
  deepStrictEqual(hosts.map((h) => h.busy), [2, 2]);
  deepStrictEqual(p.stats.programs, 4);
  for (const lease of leases) lease.finish();
  await delay(20);
  deepStrictEqual(hosts.map((h) => h.busy), [0, 0]);
  await p.close();
});

Deno.test("HostPool gives no program to a host without room, starts another for it, and asks only the host it picks", async () => {
  const { pool: p, hosts } = pool({ size: 1, programsPerHost: 8 });
  p.fill();
  await p.warm();
  const first = await p.acquire();
  strictEqual(hosts[0]!.roomAsked, 1, "one program, one question, of the host picked");
  // Its programs fill its bound: free slots, but no room; the next program waits for a new host.
  hosts[0]!.room = false;
  const next = await p.acquire();
  strictEqual(hosts.length, 2);
  deepStrictEqual([next.pid, hosts[0]!.busy, hosts[1]!.busy], [hosts[1]!.pid, 1, 1]);
  // The least busy host is asked first; one without room is passed over for the next.
  const asked = () => hosts.map((host) => host.roomAsked);
  let before = asked();
  const third = await p.acquire();
  deepStrictEqual([third.pid, ...asked().map((n, i) => n - before[i]!)], [hosts[1]!.pid, 1, 1]);
  // With room again, the least busy host takes the next, and only it is asked.
  hosts[0]!.room = true;
  before = asked();
  const fourth = await p.acquire();
  deepStrictEqual([fourth.pid, ...asked().map((n, i) => n - before[i]!)], [hosts[0]!.pid, 1, 0]);
  for (const lease of [first, next, third, fourth]) lease.finish();
  await p.close();
});

Deno.test("HostPool replaces a host that died, and fails waiters at once while a broken runtime backs off", async () => {
  const { pool: p, hosts, failing } = pool({ size: 1 });
  p.fill();
  await p.warm();
  await p.acquire();
  hosts[0]!.kill("crashed");
  await delay(60);
  strictEqual(p.stats.ready, 1, "the dead host was not replaced");
  strictEqual(hosts.filter((h) => h.state !== "dead").length, 1);
  await p.close();

  const broken = pool({ size: 1 });
  broken.failing(true);
  broken.pool.fill();
  await delay(40);
  await rejects(broken.pool.acquire(), /does not start/);
  await broken.pool.close();
  failing(false);
});

Deno.test("HostPool starts hosts for a burst beyond its free slots, and retires them after the idle timeout", async () => {
  const { pool: p, hosts } = pool({ size: 1, programsPerHost: 2, idleTimeoutMs: 300 });
  p.fill();
  await p.warm();
  const leases = await Promise.all(Array.from({ length: 5 }, () => p.acquire()));
  strictEqual(hosts.length >= 3, true, `${hosts.length} hosts for 5 programs of 2 slots each`);
  strictEqual(p.stats.programs, 5);
  for (const lease of leases) lease.finish();
  await delay(50);
  strictEqual(p.stats.programs, 0, JSON.stringify(p.stats));
  // Unused, the extra hosts are retired; the pool goes back to its size.
  const deadline = Date.now() + 3000;
  while (p.pids.length > 1 && Date.now() < deadline) await delay(50);
  strictEqual(p.pids.length, 1);
  await p.close();
});

Deno.test("HostPool never runs more hosts than its bound: programs wait for a slot instead", async () => {
  const { pool: p, hosts } = pool({ size: 1, programsPerHost: 1, maxHosts: 2 });
  p.fill();
  await p.warm();
  const leases = await Promise.all([p.acquire(), p.acquire()]);
  const third = p.acquire(2_000);
  await delay(80);
  deepStrictEqual([hosts.length, p.stats.waiting], [2, 1]);
  leases[0]!.finish();
  const lease = await third;
  strictEqual(lease.pid, leases[0]!.pid);
  await rejects(p.acquire(50), /No sandbox became ready within 50 ms/);
  await p.close();
});
