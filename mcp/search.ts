/**
 * `search_tools`: a query over the names, descriptions and parameters of every upstream tool,
 * answered with the best matches' declarations in the program's language. Scoring is plain and
 * predictable: each query word counts once per tool, by the best place it is found (the tool's
 * or server's name 3, a parameter's name 2, a description 1; a word matches a word of the tool
 * that starts with it), and ties keep the catalogue's order.
 *
 * @module
 */
import type { CatalogEntry } from "./catalog.ts";
import { declarationsOf, type ProgramLanguage } from "./declarations.ts";

/** The most matches one search answers. */
export const MAX_SEARCH_RESULTS = 50;

/** What a search found. */
export interface SearchResult {
  /** The matches, best first. */
  matches: CatalogEntry[];
  /** How many tools matched before the limit. */
  total: number;
}

/**
 * The entries that match `query`, best first, at most `limit`. An empty query (or `*`) matches
 * every tool.
 *
 * @example
 * ```ts
 * import { searchEntries } from "./search.ts";
 * const entry = (name: string, description: string) => ({
 *   server: "fs", namespace: "fs", name, id: name, wire: `fs.${name}`, confirm: false,
 *   allowUnconfirmed: false, tool: { name, description, inputSchema: { type: "object" as const } },
 * });
 * const { matches } = searchEntries([entry("read_file", "Read a file"), entry("move", "Move")], "read");
 * console.assert(matches.length === 1 && matches[0]!.name === "read_file");
 * ```
 */
export function searchEntries(entries: CatalogEntry[], query: string, limit = 10): SearchResult {
  const terms = [...new Set(words(query))];
  const scored = entries.map((entry, index) => ({ entry, index, score: score(entry, terms) }))
    .filter((s) => terms.length === 0 || s.score > 0)
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const bounded = Math.max(1, Math.min(MAX_SEARCH_RESULTS, Math.floor(limit)));
  return { matches: scored.slice(0, bounded).map((s) => s.entry), total: scored.length };
}

/** The answer of `search_tools`: how many matched, then their declarations. */
export function renderSearch(
  result: SearchResult,
  all: number,
  language: ProgramLanguage,
): string {
  if (result.matches.length === 0) {
    return `No tool matches (of ${all}). Search with other words, or an empty query for all.`;
  }
  const shown = result.matches.length < result.total
    ? `${result.matches.length} best of ${result.total} matching tools`
    : `${result.total} matching tool${result.total === 1 ? "" : "s"}`;
  return `${shown} (of ${all}):\n\n${declarationsOf(result.matches, language)}`;
}

function score(entry: CatalogEntry, terms: string[]): number {
  if (terms.length === 0) return 1;
  const names = words(`${entry.server} ${entry.namespace} ${entry.name} ${entry.id}`);
  const schema = entry.tool.inputSchema as {
    properties?: Record<string, { description?: string }>;
  };
  const properties = Object.entries(schema.properties ?? {});
  const params = words(properties.map(([name]) => name).join(" "));
  const text = words(
    [entry.tool.description ?? "", ...properties.map(([, p]) => p?.description ?? "")].join(" "),
  );
  let total = 0;
  for (const term of terms) {
    const found = (list: string[]) => list.some((word) => word.startsWith(term));
    total += found(names) ? 3 : found(params) ? 2 : found(text) ? 1 : 0;
  }
  return total;
}

/** Lower-case words of `text`; `snake_case`, `kebab-case` and `camelCase` split. */
function words(text: string): string[] {
  return text.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0 && word !== "*");
}
