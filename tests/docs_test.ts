/**
 * The docs a newcomer reads stay true: every relative link in README.md and docs/ resolves (the
 * file, and its `#anchor`); every `--flag` they name is an option of `progtc serve` (or of a tool
 * they run); the defaults they state beside a flag are the table's; docs/OPTIONS.md is generated
 * from the table.
 *
 * @module
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { MCP_FLAGS } from "../mcp/cli.ts";
import { optionsMarkdown } from "../server/option_docs.ts";
import { OPTION_KEYS, specOf } from "../server/option_table.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(`${ROOT}docs`)) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  return files.sort();
}

/** The text outside fenced code blocks. */
function prose(markdown: string): string {
  return markdown.replace(/^\s*```[\s\S]*?^\s*```/gm, "");
}

/** GitHub's anchors of a file's headings (`## Limits and their defaults` → `limits-and-their-defaults`). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim()
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

Deno.test("every relative link in README.md and docs/ resolves, #anchors included", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of await markdownFiles()) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
    for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
      checked++;
      const [path, anchor] = target!.split("#") as [string, string | undefined];
      const resolved = path === "" ? file : new URL(path, `file:///${dir}`).pathname.slice(1);
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(`${ROOT}${resolved}`);
      } catch {
        broken.push(`${file}: ${target} (no ${resolved})`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!info.isFile || !resolved.endsWith(".md")) {
        broken.push(`${file}: ${target} (an anchor into a file that has none)`);
      } else if (!anchors(await Deno.readTextFile(`${ROOT}${resolved}`)).has(anchor)) {
        broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
  }
  ok(checked > 20, `only ${checked} links found`);
  deepStrictEqual(broken, []);
});

/** Flags of the other programs the docs show (Deno's and V8's, npm's, pytest's). */
const OTHER_FLAGS = new Set([
  "allow",
  "allow-all",
  "allow-env",
  "allow-net",
  "allow-read",
  "allow-run",
  "allow-write",
  "allow-import",
  "cached-only",
  "check",
  "config",
  "dry-run",
  "frozen",
  "help",
  "location",
  "no-config",
  "no-lock",
  "no-npm",
  "no-remote",
  "rm",
  "root",
  "single-threaded",
  "v8-flags",
  "version",
  "max-old-space-size",
  "max-semi-space-size",
  "min-semi-space-size",
  "liftoff-only",
  "no-wasm-lazy-compilation",
  "wasm-tiering-budget",
  "unstable-otel",
  "unstable-worker-options",
]);

Deno.test("every --flag README.md and docs/ name is an option of progtc serve or mcp, or of a program they run", async () => {
  const flags = new Set([
    ...OPTION_KEYS.map((key) => specOf(key).flag).filter(Boolean),
    ...MCP_FLAGS,
  ]);
  const unknown: string[] = [];
  for (const file of await markdownFiles()) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    for (const [, flag] of text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])/g)) {
      if (!flags.has(flag!) && !OTHER_FLAGS.has(flag!)) unknown.push(`${file}: --${flag}`);
    }
  }
  deepStrictEqual([...new Set(unknown)], []);
});

/** A default as the docs write it (`10 s`, `4 MiB`, `1000`, `127.0.0.1`), in the flag's units. */
function normalise(text: string): string | undefined {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*(s|MiB|KiB|days?)?$/);
  if (!match) return /^[\w.:-]+$/.test(text.trim()) ? `word:${text.trim()}` : undefined;
  const n = Number(match[1]);
  switch (match[2]) {
    case "MiB":
      return `${n * 2 ** 20}|${n}`;
    case "KiB":
      return `${n * 1024}`;
    case "day":
    case "days":
      return `${n * 86400}`;
    default:
      return String(n);
  }
}

/** The table's default of a flag in its units (`10`, `4194304`), or undefined if computed. */
function tableDefault(flag: string): string | undefined {
  const key = OPTION_KEYS.find((k) => specOf(k).flag === flag);
  if (!key) return undefined;
  const spec = specOf(key);
  if (typeof spec.default === "object" && spec.default !== null && !Array.isArray(spec.default)) {
    return undefined;
  }
  return spec.kind.show(spec.default as never);
}

Deno.test("the defaults README.md and docs/ state beside a flag are the table's", async () => {
  const wrong: string[] = [];
  let checked = 0;
  const compare = (file: string, flag: string, stated: string) => {
    const expected = tableDefault(flag);
    const value = normalise(stated);
    if (expected === undefined || value === undefined) return;
    // A word is a default only where the table's is one (`127.0.0.1`, not "(UTF-8)").
    const word = !/^\d+(\.\d+)?$/.test(expected);
    if (word !== value.startsWith("word:")) return;
    checked++;
    if (!value.replace(/^word:/, "").split("|").includes(expected)) {
      wrong.push(`${file}: --${flag} (${stated}), the table says ${expected}`);
    }
  };
  for (const file of await markdownFiles()) {
    const text = await Deno.readTextFile(`${ROOT}${file}`);
    // Prose: "`--tool-call-timeout` (10 s)".
    for (const [, flag, stated] of text.matchAll(/`--([a-z-]+)`\s*\(([^),;]+)[),;]/g)) {
      compare(file, flag!, stated!);
    }
    // Tables: "| what | `--a`, `--b` | 1, 2 s | ... |".
    for (const line of text.split("\n")) {
      const cells = line.split("|").map((c) => c.trim());
      if (cells.length < 4) continue;
      const flags = [...cells[2]!.matchAll(/`--([a-z-]+)`/g)].map((m) => m[1]!);
      const values = cells[3]!.replace(/\([^)]*\)/g, "").split(",");
      if (flags.length === 0 || flags.length !== values.length) continue;
      flags.forEach((flag, i) => compare(file, flag, values[i]!));
    }
  }
  ok(checked >= 15, `only ${checked} defaults found`);
  deepStrictEqual(wrong, []);
});

Deno.test("no code span in README.md and docs/ breaks across lines", async () => {
  const broken: string[] = [];
  for (const file of await markdownFiles()) {
    const lines = prose(await Deno.readTextFile(`${ROOT}${file}`)).split("\n");
    for (const line of lines) {
      if ((line.match(/`/g) ?? []).length % 2 === 1) broken.push(`${file}: ${line.trim()}`);
    }
  }
  deepStrictEqual(broken, []);
});

Deno.test("docs/OPTIONS.md is generated from the table (`deno task options`)", async () => {
  const formatted = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = formatted.stdin.getWriter();
  await writer.write(new TextEncoder().encode(optionsMarkdown()));
  await writer.close();
  const expected = new TextDecoder().decode((await formatted.output()).stdout);
  const file = await Deno.readTextFile(`${ROOT}docs/OPTIONS.md`);
  ok(file === expected, "docs/OPTIONS.md is stale: run `deno task options`");
});
