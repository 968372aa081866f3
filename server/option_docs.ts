/**
 * Writes what is generated from the options table: server/option_types.ts, the TypeScript
 * declarations (the `Settings` that `createApp()` and `serve()` take) with each option's help,
 * unit, bounds, flag, variable and default as its documentation; and docs/OPTIONS.md, the same
 * for operators. A test checks both are current.
 *
 * ```sh
 * deno task options
 * ```
 *
 * @module
 */
import { envName } from "./config.ts";
import { OPTION_KEYS, specOf } from "./option_table.ts";
import { MAX_TIMER_MS } from "./option_kinds.ts";
import { type Computed, isComputed, type OptionGroup, UNSET } from "./option_spec.ts";
import { showBytes } from "./option_kinds.ts";

const WIDTH = 100;

/** The source of server/option_types.ts. */
export function optionDeclarations(): string {
  const members = OPTION_KEYS.map((key) => {
    const spec = specOf(key);
    const kind = spec.kind;
    // A code span is one word for the wrapping (a no-break space until then).
    const where = spec.flag
      ? ` Command line: \`--${spec.flag}\u00a0${kind.placeholder}\`${
        kind.unit === "milliseconds" ? " (in seconds)" : ""
      }, or \`${envName(spec.flag)}\`.`
      : " Only code sets it.";
    const text = `${spec.help}. Allowed: ${kind.expected("code")}.${where}`;
    return [
      "  /**",
      ...wrap(text, "   * ").map((line) => line.replaceAll("\u00a0", " ")),
      `   * @default {${defaultText(spec.default, kind.unit)}}`,
      "   */",
      `  ${key}?: ${kind.tsType};`,
    ].join("\n");
  });
  const values = OPTION_KEYS.map((key) => {
    const spec = specOf(key);
    const unset = isComputed(spec.default) && spec.default.of === UNSET ? " | undefined" : "";
    return `  ${key}: ${spec.kind.tsType}${unset};`;
  });
  return `/**
 * The options of \`createApp()\` and \`serve()\` that \`progtc serve\` also takes as flags and
 * \`PROGTC_*\` variables. Generated from server/option_table.ts by \`deno task options\`: edit
 * the table, not this file.
 *
 * @module
 */

/** The server's settings: each one's unit is in its name (\`Ms\`: milliseconds, \`Mb\`: MiB). */
export interface Settings {
${members.join("\n")}
}

/** Every setting resolved (\`resolveOptions\`); \`undefined\` where unset means something. */
export interface OptionValues {
${values.join("\n")}
}
`;
}

const SECTIONS: [OptionGroup, string][] = [
  ["serve", "Server"],
  ["hosts", "Sandbox hosts"],
  ["step", "Step API"],
  ["sessions", "Sessions"],
  ["code", "Only in code"],
];

/** The source of docs/OPTIONS.md (before `deno fmt`, which wraps its lines). */
export function optionsMarkdown(): string {
  const sections = SECTIONS.map(([group, title]) => {
    const items = OPTION_KEYS.filter((key) => specOf(key).group === group).map((key) => {
      const spec = specOf(key);
      const kind = spec.kind;
      const names = spec.flag
        ? `\`--${spec.flag} ${kind.placeholder}\`, \`${envName(spec.flag)}\`, \`${key}\``
        : `\`${key}\``;
      const value = spec.default;
      const fallback = isComputed(value)
        ? value.text
        : `\`${kind.show(value as never)}${kind.suffix ?? ""}\`${
          kind.unit === "bytes" && showBytes(value as number).endsWith("MiB")
            ? ` (${showBytes(value as number)})`
            : ""
        }`;
      const allowed = spec.flag ? kind.expected("cli") : kind.expected("code");
      return `- ${names}: ${spec.help}. Default: ${fallback}. Allowed: ${allowed}.`;
    });
    return `## ${title}\n\n${items.join("\n")}`;
  });
  return `# Options of \`progtc serve\`

Generated from [server/option_table.ts](../server/option_table.ts) by \`deno task options\`: edit
the table, not this file.

Each option is a flag of \`progtc serve\`, a variable (a flag on the command line wins), and an
option of \`serve()\` and \`createApp()\` in TypeScript. The flags keep the reference's names and
give durations in seconds (decimals allowed; at most ${MAX_TIMER_MS / 1000}, about 24.8 days, the
longest timer); the TypeScript options carry their unit in their name: \`Ms\` for milliseconds,
\`Mb\` for MiB (2^20 bytes), \`Bytes\`. Defaults below are in the flags' units. A bad value, from
a flag or a variable, is one line naming it, its value and what is allowed, and exit code 2.

${sections.join("\n\n")}
`;
}

function defaultText(value: unknown, unit: string | undefined): string {
  if (isComputed(value)) return (value as Computed<unknown>).text;
  if (typeof value === "number" && unit === "bytes") {
    const shown = showBytes(value);
    return shown.endsWith("MiB") ? `${value} (${shown})` : String(value);
  }
  return JSON.stringify(value);
}

function wrap(text: string, prefix: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && prefix.length + line.length + 1 + word.length > WIDTH) {
      lines.push(prefix + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(prefix + line);
  return lines;
}

if (import.meta.main) {
  const files: [string, string][] = [
    ["./option_types.ts", optionDeclarations()],
    ["../docs/OPTIONS.md", optionsMarkdown()],
  ];
  for (const [file, text] of files) {
    const path = new URL(file, import.meta.url);
    await Deno.writeTextFile(path, text);
    console.log(`wrote ${path.pathname}`);
  }
}
