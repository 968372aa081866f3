/**
 * `describeTools` for a model's prompt: TypeScript declarations that type-check the programs a
 * model writes (`deno check` passes a right one and fails a wrong one), and Python stubs that
 * parse; both from zod schemas and from plain JSON Schema.
 *
 * @module
 */
import { deepStrictEqual, doesNotMatch, match, ok, strictEqual } from "node:assert/strict";
import { z } from "zod";
import { defineTool, describeTools } from "../client/mod.ts";
import { parameterNames } from "../client/signature.ts";
import { needsPython } from "./interop/venv.ts";

const tools = {
  get_weather: defineTool({
    description: "Current weather of a city.",
    input: z.object({
      city: z.string().describe("City name, in English"),
      units: z.enum(["celsius", "fahrenheit"]).optional(),
    }),
    output: z.object({ city: z.string(), temperature: z.number(), tags: z.array(z.string()) }),
    execute: ({ city }) => ({ city, temperature: 21, tags: [] }),
  }),
  search: defineTool({
    description: "Searches the catalogue.",
    input: {
      type: "object",
      properties: {
        query: { type: "string" },
        limit: { type: "integer", minimum: 1 },
        filters: {
          type: "object",
          properties: { color: { type: "string" }, price: { type: ["number", "null"] } },
        },
      },
      required: ["query"],
    },
    execute: () => [],
  }),
  "send-email": defineTool({
    description: "Sends an email.",
    input: z.string(),
    execute: () => "sent",
  }),
  legacy: (a: number, b: number) => a + b,
};

async function check(
  declarations: string,
  program: string,
): Promise<{ code: number; errors: string }> {
  const dir = await Deno.makeTempDir();
  try {
    // The declarations as a module the program's `"tools"` resolves to.
    // (A member the ambient module does not export needs `declare` in a file of its own.)
    const body = declarations.replace(/^declare module "tools" \{\n/, "").replace(/\n\}$/, "\n")
      .replace(/^ {2}function /gm, "  declare function ");
    await Deno.writeTextFile(`${dir}/tools.d.ts`, body);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ imports: { tools: "./tools.d.ts" } }),
    );
    await Deno.writeTextFile(`${dir}/program.ts`, program);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "program.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, errors: new TextDecoder().decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("describeTools for TypeScript: declarations with JSDoc, types from zod and JSON Schema, and the rules", () => {
  const text = describeTools(tools, { language: "typescript", returnValue: true });
  match(
    text,
    /^Write a TypeScript program that uses these tools\. Import the tools you need from "tools"/,
  );
  match(text, /export default/, "returnValue: true promises the default export");
  doesNotMatch(describeTools(tools), /export default/, "without it, nothing promises a value");
  const declarations = text.slice(text.indexOf('declare module "tools"'));
  strictEqual(
    declarations,
    `declare module "tools" {
  /**
   * Current weather of a city.
   * @param input.city City name, in English
   */
  export function get_weather(input: { city: string; units?: "celsius" | "fahrenheit" }): Promise<{ city: string; temperature: number; tags: string[] }>;
  /** Searches the catalogue. */
  export function search(input: {
    query: string;
    limit?: number;
    filters?: { color?: string; price?: number | null };
  }): Promise<unknown>;
  /** Sends an email. */
  function tool2(input: string): Promise<unknown>;
  export { tool2 as "send-email" };
  export function legacy(a: unknown, b: unknown): Promise<unknown>;
}`,
  );
});

Deno.test("the TypeScript declarations type-check a right program and reject a wrong one", async () => {
  const declarations = describeTools(tools, { rules: false });
  const right = await check(
    declarations,
    `import { get_weather, search } from "tools";
const w = await get_weather({ city: "Paris", units: "celsius" });
const hot: boolean = w.temperature > 30;
const tags: string[] = w.tags;
await search({ query: "shoes", filters: { price: null } });
console.log(hot, tags);
`,
  );
  strictEqual(right.code, 0, right.errors);
  const wrong = await check(
    declarations,
    `import { get_weather } from "tools";
await get_weather({ town: "Paris" });
const t: string = (await get_weather({ city: "Oslo", units: "kelvin" })).temperature;
`,
  );
  strictEqual(wrong.code, 1);
  match(wrong.errors, /'town' does not exist in type/);
  match(wrong.errors, /Type '"kelvin"' is not assignable to type '"celsius" \| "fahrenheit"/);
  match(wrong.errors, /Type 'number' is not assignable to type 'string'/);
});

Deno.test(
  "describeTools for Python: stubs with type hints, keyword arguments and docstrings, that parse",
  needsPython,
  async () => {
    const text = describeTools(tools, { language: "python" });
    match(
      text,
      /^Write a Python program that uses these tools\. Import the tools you need from `tools`/,
    );
    const stubs = text.slice(text.indexOf("# module tools"));
    ok(
      stubs.includes(
        `async def get_weather(*, city: str, units: Literal["celsius", "fahrenheit"] | None = None) -> GetWeatherResult:
    """Current weather of a city.

    Args:
        city: City name, in English
    """`,
      ),
      stubs,
    );
    ok(
      stubs.includes(
        "class GetWeatherResult(TypedDict):\n    city: str\n    temperature: float\n    tags: list[str]",
      ),
      stubs,
    );
    ok(
      stubs.includes(
        "class SearchFilters(TypedDict, total=False):\n    color: str\n    price: float | None",
      ),
      stubs,
    );
    ok(
      stubs.includes(
        "async def search(*, query: str, limit: int | None = None, filters: SearchFilters | None = None) -> Any:",
      ),
      stubs,
    );
    ok(
      stubs.includes(
        `# importable as: import tools; getattr(tools, "send-email")\nasync def _(value: str, /) -> Any:`,
      ),
      stubs,
    );
    ok(stubs.includes("async def legacy(a: Any, b: Any, /) -> Any: ..."), stubs);
    await assertPythonRuns(stubs);
  },
);

/** Runs `source` in Python: it parses, and its annotations (evaluated at `def`) are valid. */
async function assertPythonRuns(source: string): Promise<void> {
  const python = await new Deno.Command("python3", {
    args: ["-c", "import sys; exec(compile(sys.stdin.read(), 'tools', 'exec'), {})"],
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  const writer = python.stdin.getWriter();
  await writer.write(new TextEncoder().encode(source));
  await writer.close();
  const status = await python.output();
  strictEqual(status.code, 0, new TextDecoder().decode(status.stderr));
}

Deno.test(
  "describeTools for Python writes JSON literals as Python's (True, False, None)",
  needsPython,
  async () => {
    const stubs = describeTools({
      switch: defineTool({
        input: {
          type: "object",
          properties: {
            on: { const: true },
            mode: { enum: ["a", null, false] },
            retry: { type: "boolean", default: false },
          },
          required: ["on"],
        },
        execute: () => null,
      }),
    }, { language: "python", rules: false });
    ok(
      stubs.includes(
        'async def switch(*, on: Literal[True], mode: Literal["a", None, False] | None = None, ' +
          "retry: bool = False) -> Any: ...",
      ),
      stubs,
    );
    await assertPythonRuns(stubs);
  },
);

Deno.test("a plain function's parameters are read from its source; anything else takes any positional arguments", () => {
  const cases: [(...args: never[]) => unknown, string[] | undefined][] = [
    [(a: number, b: number) => a + b, ["a", "b"]],
    [async (city: string) => await Promise.resolve(city), ["city"]],
    [function add(a: number, b: number) {
      return a + b;
    }, ["a", "b"]],
    [() => 1, []],
    [(...xs: number[]) => xs.length, undefined],
    [({ city }: { city: string }) => city, undefined],
    [(a: number, b = 2) => a + b, undefined],
    [Math.max, undefined],
    [((a: number) => a).bind(null), undefined],
  ];
  for (const [fn, names] of cases) deepStrictEqual(parameterNames(fn), names, String(fn));
  const text = describeTools({ rest: (...xs: number[]) => xs.length }, { language: "python" });
  ok(text.includes("async def rest(*args: Any) -> Any: ..."), text);
  ok(text.includes("Pass a tool's inputs as positional arguments, as its stub says."), text);
});
