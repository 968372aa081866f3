/**
 * The catalogue: every tool of every upstream server under its name inside a program
 * (`namespace.tool`), with what the person must see first. Rebuilt when a server's tool list
 * changes or a server stops; listeners hear each new version.
 *
 * @module
 */
import type { Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import { NameClash, namespacesOf, toolIdentifiersOf, wireName } from "./naming.ts";
import type { Upstream } from "./upstream.ts";

/** The most tools of all servers together. */
export const MAX_TOOLS = 5000;

/** One upstream tool as a program sees it. */
export interface CatalogEntry {
  /** The server's name in the config. */
  server: string;
  /** The server's namespace in the `tools` module. */
  namespace: string;
  /** The tool's name upstream. */
  name: string;
  /** Its name in the namespace (an identifier). */
  id: string;
  /** Its progtc wire name: `namespace.id`. */
  wire: string;
  /** What the server listed. */
  tool: McpTool;
  /** Whether the person must approve each call (destructiveHint, or the config's `confirm`). */
  confirm: boolean;
  /** Whether it runs without approval when the client cannot ask (`allowUnconfirmed`). */
  allowUnconfirmed: boolean;
}

/** A server as the catalogue reports it. */
export interface CatalogServer {
  name: string;
  namespace: string;
  state: Upstream["state"];
  error: string | undefined;
  tools: number;
}

/** The tools of all upstream servers. */
export class Catalog {
  #upstreams: Upstream[];
  #namespaces: Map<string, string>;
  #entries = new Map<string, CatalogEntry[]>();
  #byWire = new Map<string, CatalogEntry>();
  #listeners = new Set<() => void>();
  #version = 0;
  #warn: (line: string) => void;

  /** Throws a {@linkcode NameClash} when two server names map to one namespace. */
  constructor(upstreams: Upstream[], warn: (line: string) => void = () => {}) {
    this.#upstreams = upstreams;
    this.#namespaces = namespacesOf(upstreams.map((u) => u.name));
    this.#warn = warn;
  }

  /**
   * Reads every server's tools. At start (`strict`), a clash throws; later, the server keeps
   * its previous tools and the clash is logged.
   */
  refresh(strict = false): void {
    for (const upstream of this.#upstreams) {
      const namespace = this.#namespaces.get(upstream.name)!;
      try {
        this.#entries.set(upstream.name, entriesOf(upstream, namespace));
      } catch (error) {
        if (strict || !(error instanceof NameClash)) throw error;
        this.#warn(`${error.message}; keeping its previous tools`);
      }
    }
    const all = [...this.#entries.values()].flat();
    if (all.length > MAX_TOOLS) {
      throw new Error(`the servers list ${all.length} tools together, more than ${MAX_TOOLS}`);
    }
    this.#byWire = new Map(all.map((entry) => [entry.wire, entry]));
    this.#version++;
    for (const listener of this.#listeners) listener();
  }

  /** Increases with every refresh. */
  get version(): number {
    return this.#version;
  }

  /** Every tool, server by server in config order. */
  get entries(): CatalogEntry[] {
    return this.#upstreams.flatMap((u) => this.#entries.get(u.name) ?? []);
  }

  /** The namespaces, server by server. */
  get namespaces(): string[] {
    return this.#upstreams.map((u) => this.#namespaces.get(u.name)!);
  }

  /** Each server, with its state. */
  get servers(): CatalogServer[] {
    return this.#upstreams.map((u) => ({
      name: u.name,
      namespace: this.#namespaces.get(u.name)!,
      state: u.state,
      error: u.error,
      tools: this.#entries.get(u.name)?.length ?? 0,
    }));
  }

  /** The tool of a wire name. */
  byWire(wire: string): CatalogEntry | undefined {
    return this.#byWire.get(wire);
  }

  /** The upstream server of an entry. */
  upstreamOf(entry: CatalogEntry): Upstream {
    return this.#upstreams.find((u) => u.name === entry.server)!;
  }

  /** Calls `listener` after every refresh; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function entriesOf(upstream: Upstream, namespace: string): CatalogEntry[] {
  const ids = toolIdentifiersOf(upstream.name, namespace, upstream.tools.map((t) => t.name));
  const { confirm, allowUnconfirmed } = upstream.config;
  return upstream.tools.map((tool) => {
    const id = ids.get(tool.name)!;
    const hints = tool.annotations;
    const destructive = hints?.destructiveHint === true && hints.readOnlyHint !== true;
    return {
      server: upstream.name,
      namespace,
      name: tool.name,
      id,
      wire: wireName(namespace, id),
      tool,
      confirm: destructive || confirm.includes(tool.name),
      allowUnconfirmed: allowUnconfirmed === true ||
        (Array.isArray(allowUnconfirmed) && allowUnconfirmed.includes(tool.name)),
    };
  });
}
