/**
 * Builds the npm package `@progtc/client` into `dist/npm/`: ESM and `.d.ts` compiled from
 * `client/` and `protocol.ts` by the TypeScript compiler, a `package.json`, the README and the
 * licence. The package has no runtime dependencies; the build fails if any file imports
 * something other than a relative path.
 *
 * ```sh
 * deno task build:npm
 * ```
 *
 * @module
 */
import ts from "typescript";
import denoJson from "../deno.json" with { type: "json" };

const ROOT = new URL("../", import.meta.url).pathname;
const DEFAULT_OUT = `${ROOT}dist/npm/`;

/** The package's entry points: its subpath, and the module under `client/`. */
const ENTRIES = { ".": "mod", "./ai": "ai", "./mcp": "mcp", "./codemode": "codemode" } as const;

/**
 * Builds the package into `out` (its contents replaced; by default `dist/npm/`); resolves with
 * the directory.
 */
export async function buildNpm(out: string = DEFAULT_OUT): Promise<string> {
  const OUT = out.endsWith("/") ? out : `${out}/`;
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    target: ts.ScriptTarget.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    types: [],
    declaration: true,
    rewriteRelativeImportExtensions: true,
    allowImportingTsExtensions: true,
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    rootDir: ROOT,
    outDir: `${OUT}esm`,
    newLine: ts.NewLineKind.LineFeed,
  };
  const program = ts.createProgram(
    Object.values(ENTRIES).map((name) => `${ROOT}client/${name}.ts`),
    options,
  );
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0) {
    const host: ts.FormatDiagnosticsHost = {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => ROOT,
      getNewLine: () => "\n",
    };
    throw new Error(`npm build failed:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  const files: string[] = [];
  for await (const path of walk(`${OUT}esm`)) files.push(path);
  for (const path of files) {
    // The docs' examples name the package by its npm name.
    const text = (await Deno.readTextFile(path))
      .replaceAll("@progtc/progtc/client", "@progtc/client");
    await Deno.writeTextFile(path, text);
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith(".")) {
        throw new Error(
          `${path.slice(OUT.length)} imports ${fileName}: the package has no dependencies`,
        );
      }
    }
  }
  const manifest = {
    name: "@progtc/client",
    version: denoJson.version,
    description:
      "Client for progtc: run an AI agent's program in a locked sandbox, with your own tools",
    license: denoJson.license,
    type: "module",
    main: "./esm/client/mod.js",
    types: "./esm/client/mod.d.ts",
    exports: {
      ...Object.fromEntries(
        Object.entries(ENTRIES).map(([subpath, name]) => [
          subpath,
          { types: `./esm/client/${name}.d.ts`, default: `./esm/client/${name}.js` },
        ]),
      ),
      "./package.json": "./package.json",
    },
    files: ["esm", "README.md", "LICENSE"],
    sideEffects: false,
    engines: { node: ">=20.3" },
    keywords: ["progtc", "ai", "agents", "tools", "sandbox", "code-mode", "llm"],
  };
  await Deno.writeTextFile(`${OUT}package.json`, JSON.stringify(manifest, null, 2) + "\n");
  await Deno.copyFile(`${ROOT}npm/README.md`, `${OUT}README.md`);
  await Deno.copyFile(`${ROOT}LICENSE`, `${OUT}LICENSE`);
  return OUT;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else yield path;
  }
}

if (import.meta.main) console.log(`built ${await buildNpm()}`);
