/**
 * The Python snapshot's cache key (`runner/python_snapshot.ts`): any file of `sandbox/python/`
 * that changes, or is added, names another snapshot, so a server never restores a snapshot with
 * sources (or a glue) it was not built with.
 *
 * @module
 */
import { notStrictEqual, strictEqual } from "node:assert/strict";
import { sourceHash } from "../runner/python_snapshot.ts";

Deno.test("the snapshot's key changes with every file of the Python sandbox directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const url = new URL(`file://${dir}/`);
    const key = () => sourceHash(url, ["314.0.7", "2.9.6"]);
    await Deno.writeTextFile(`${dir}/worker.ts`, "a");
    await Deno.writeTextFile(`${dir}/glue.ts`, "b");
    const first = await key();
    strictEqual(await key(), first, "the same files give the same key");
    await Deno.writeTextFile(`${dir}/glue.ts`, "c");
    const changed = await key();
    notStrictEqual(changed, first, "a changed file");
    await Deno.writeTextFile(`${dir}/copies.ts`, "");
    notStrictEqual(await key(), changed, "an added file");
    await Deno.remove(`${dir}/copies.ts`);
    await Deno.rename(`${dir}/glue.ts`, `${dir}/other.ts`);
    notStrictEqual(await key(), changed, "a renamed file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
