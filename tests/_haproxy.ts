/**
 * What the load-balancer tests share: the HAProxy binary (the Debian package, installed by
 * `.ci/run`), and our servers started in processes of their own behind it.
 *
 * @module
 */
import { DenoProcess, freePort } from "./_process.ts";

async function haproxyPath(): Promise<string | undefined> {
  for (const path of ["/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"]) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

/** HAProxy's path, when it is installed. */
export const HAPROXY: string | undefined = await haproxyPath();

/** One of our servers behind the balancer. */
export interface Instance {
  name: string;
  process: DenoProcess;
  port: number;
  pid: number;
}

/** Starts `cli.ts serve` on port 0 with `flags` and `env` (the key among them); resolves once it serves. */
export async function startInstance(
  name: string,
  flags: string[],
  env: Record<string, string>,
): Promise<Instance> {
  const process = new DenoProcess(
    ["run", "-A", "cli.ts", "serve", "--port", "0", ...flags],
    { ...Deno.env.toObject(), ...env },
  );
  const [, port] = await process.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
  await process.waitFor(/^settings: /m);
  return { name, process, port: Number(port), pid: process.child.pid };
}

/** What a test's HAProxy runs: its backend's lines, and lines for its defaults. */
export interface HaproxyConfig {
  defaults?: string[];
  backend: string[];
}

/**
 * docs/DEPLOY.md's HAProxy configuration in front of `instances`, with checks every 300 ms
 * that take a server out at its first failed one (a test waits less): cookie affinity, and a
 * server taken out of the rotation (its `/ready` says 503: draining, full) still gets the
 * requests of the executions it runs (`option persist`); one that cannot be reached at all has
 * them sent elsewhere (`option redispatch`).
 */
export function cookieAffinity(instances: Instance[]): HaproxyConfig {
  return {
    defaults: ["  option persist", "  option redispatch", "  retries 2"],
    backend: [
      "  balance roundrobin",
      "  cookie SRV insert indirect nocache",
      "  option httpchk GET /ready",
      "  http-check expect status 200",
      ...instances.map((i) =>
        `  server ${i.name} 127.0.0.1:${i.port} cookie ${i.name} check inter 300ms fall 1 rise 1`
      ),
    ],
  };
}

/** HAProxy running in front of a test's instances. */
export interface Balancer extends AsyncDisposable {
  url: string;
  /** A directory of its own, removed with it. */
  dir: string;
}

/** Starts HAProxy with `config` on a free port; disposing stops it and removes its directory. */
export async function startHaproxy(config: HaproxyConfig): Promise<Balancer> {
  const dir = await Deno.makeTempDir({ prefix: "progtc-haproxy-" });
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/haproxy.cfg`,
    [
      "defaults",
      "  mode http",
      "  timeout connect 1s",
      "  timeout client 60s",
      "  timeout server 60s",
      ...config.defaults ?? [],
      "frontend progtc",
      `  bind 127.0.0.1:${port}`,
      "  default_backend servers",
      "backend servers",
      ...config.backend,
      "",
    ].join("\n"),
  );
  const haproxy = new Deno.Command(HAPROXY!, {
    args: ["-f", `${dir}/haproxy.cfg`, "-db"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    async [Symbol.asyncDispose]() {
      haproxy.kill("SIGKILL");
      await haproxy.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Stops every instance (SIGTERM, its drain) and waits for it; one already gone is skipped. */
export async function stopInstances(instances: Instance[]): Promise<void> {
  for (const instance of instances) {
    try {
      instance.process.child.kill("SIGTERM");
    } catch {
      // Killed or drained already.
    }
    await instance.process.exit();
  }
}
