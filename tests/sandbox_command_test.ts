/**
 * The sandbox host's command line and environment, pinned literally: every flag is part of the
 * boundary (docs/SECURITY.md), so a failing pin means the change is deliberate: update the pin
 * and the docs together.
 *
 * @module
 */
import { deepStrictEqual, match } from "node:assert/strict";
import type { HostOptions } from "../runner/host.ts";
import {
  commandLine,
  LOCKED_RUN_FLAGS,
  SANDBOX_DENO_DIR,
  sandboxEnv,
} from "../runner/host_command.ts";

const MiB = 2 ** 20;

/** A host's options as the runner makes them, with made-up paths. */
function options(prlimitPath: string | null): HostOptions {
  return {
    kind: "deno",
    denoPath: "/opt/deno/bin/deno",
    prlimitPath,
    heapMb: 256,
    v8Flags: [],
    env: {},
    dataMb: 37_760,
    maxLineLength: 1_114_112,
    readyTimeoutMs: 30_000,
    entry: {
      flags: ["--no-npm", "--unstable-worker-options"],
      module: "/app/sandbox/typescript/bootstrap.ts",
    },
    listener: { path: "/tmp/progtc-hosts-x/hosts.sock" } as HostOptions["listener"],
    maxPrograms: 64,
    checks: true,
    maxRuns: 1000,
    maxAgeMs: 600_000,
    cgroups: {} as HostOptions["cgroups"],
    memoryBytes: 16 * 1024 * MiB,
    programMemoryBytes: 768 * MiB,
    ownMemoryBytes: 256 * MiB,
  };
}

Deno.test("pin: the locked `deno run` flags of every sandbox host", () => {
  deepStrictEqual(LOCKED_RUN_FLAGS, [
    "run",
    "--quiet",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    "--no-remote",
    "--cached-only",
  ]);
});

Deno.test("pin: a sandbox host's environment is three variables, none of the server's", () => {
  deepStrictEqual(sandboxEnv(), {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    DENO_DIR: "/dev/null/progtc-sandbox-has-no-cache",
  });
  deepStrictEqual(SANDBOX_DENO_DIR, "/dev/null/progtc-sandbox-has-no-cache");
});

Deno.test("pin: a TypeScript host's command line, behind prlimit and without it", () => {
  for (const prlimit of ["/usr/bin/prlimit", null]) {
    const { cmd, args, env } = commandLine(options(prlimit));
    const location = args.find((arg) => arg.startsWith("--location="))!;
    match(location, /^--location=http:\/\/sandbox-[0-9a-f-]{36}\.progtc\.invalid\/$/);
    const deno = [
      "run",
      "--quiet",
      "--no-prompt",
      "--no-config",
      "--no-lock",
      "--no-remote",
      "--cached-only",
      location,
      "--v8-flags=--max-old-space-size=256",
      "--allow-net=unix:/tmp/progtc-hosts-x/hosts.sock",
      "--allow-write=/tmp/progtc-hosts-x/hosts.sock",
      "--no-npm",
      "--unstable-worker-options",
      "--allow-read=/tmp/progtc-hosts-x/hosts.sock",
      "/app/sandbox/typescript/bootstrap.ts",
      "/tmp/progtc-hosts-x/hosts.sock",
      "1114112",
      String(Deno.pid),
      String(768 * MiB),
      "64",
    ];
    if (prlimit === null) {
      deepStrictEqual([cmd, args], ["deno", deno]);
    } else {
      const data = String(37_760 * MiB);
      deepStrictEqual([cmd, args], [prlimit, [`--data=${data}:${data}`, "--", "deno", ...deno]]);
    }
    // Found as `deno` on a PATH of its own directory only.
    deepStrictEqual(env, { ...sandboxEnv(), PATH: "/opt/deno/bin" });
  }
});

Deno.test("pin: a kind's own variables join a host's cleared environment and cannot change it", () => {
  const { env } = commandLine({
    ...options(null),
    env: { MALLOC_MMAP_THRESHOLD_: "65536", DENO_DIR: "/tmp/cache", PATH: "/usr/bin" },
  });
  deepStrictEqual(env, { MALLOC_MMAP_THRESHOLD_: "65536", ...sandboxEnv(), PATH: "/opt/deno/bin" });
});
