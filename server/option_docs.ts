/**
 * Writes server/option_types.ts, the TypeScript declarations of the options table (the
 * `Settings` that `createApp()` and `serve()` take), with each option's help, unit, bounds,
 * flag, variable and default as its documentation. A test checks the file is current.
 *
 * ```sh
 * deno task options
 * ```
 *
 * @module
 */
import { envName } from "./config.ts";
import { OPTION_KEYS, specOf } from "./option_table.ts";
import { type Computed, isComputed, UNSET } from "./option_spec.ts";
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
  const path = new URL("./option_types.ts", import.meta.url);
  await Deno.writeTextFile(path, optionDeclarations());
  console.log(`wrote ${path.pathname}`);
}
