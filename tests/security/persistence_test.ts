/**
 * Cross-execution attempts: nothing one program stores (web storage, the Cache API, globals)
 * is visible to the next program on the same server.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import { assertNotLeaked, assertStillServes, attempt, marker, startServer } from "./_attempt.ts";

/** Finds a storage global on the global object or anywhere on its prototype chain. */
const FIND_STORAGE = `const findStorage = (name) => {
  for (let o = globalThis; o; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (d) return d.get ? d.get.call(globalThis) : d.value;
  }
  return undefined;
};`;

Deno.test("caches and localStorage do not carry data from one execution to the next", async () => {
  const secret = marker();
  await using server = await startServer();
  const first = await attempt(
    server,
    `${FIND_STORAGE}
const seen = [typeof caches, typeof localStorage, typeof sessionStorage, typeof Deno.openKv];
for (const name of ["caches", "localStorage", "sessionStorage"]) seen.push(typeof findStorage(name));
try { localStorage.setItem("k", "${secret}"); } catch (e) { seen.push(e.name); }
try {
  const cache = await caches.open("k");
  await cache.put("http://progtc.invalid/k", new Response("${secret}"));
} catch (e) {
  seen.push(e.name);
}
console.log(seen.join(" "));`,
  );
  strictEqual(first.result.type, "success", first.result.stderr);
  strictEqual(
    first.result.stdout,
    "undefined undefined undefined undefined undefined undefined undefined " +
      "ReferenceError ReferenceError\n",
  );

  const second = await attempt(
    server,
    `${FIND_STORAGE}
const found = [];
try { found.push(findStorage("localStorage")?.getItem("k")); } catch (e) { found.push(e.name); }
try {
  const cache = await findStorage("caches")?.open("k");
  found.push(await (await cache?.match("http://progtc.invalid/k"))?.text());
} catch (e) {
  found.push(e.name);
}
console.log(JSON.stringify(found));`,
  );
  strictEqual(second.result.type, "success", second.result.stderr);
  assertNotLeaked(second.result, secret);
  strictEqual(second.result.stdout, "[null,null]\n");
  await assertStillServes(server);
});

Deno.test("A global set by one execution is not visible to the next", async () => {
  const secret = marker();
  await using server = await startServer();
  const first = await attempt(
    server,
    `globalThis.leak = "${secret}";
Object.prototype.leak = "${secret}";
Array.prototype.push = () => { throw new Error("${secret}"); };
console.log(globalThis.leak === "${secret}");`,
  );
  strictEqual(first.result.stdout, "true\n");
  const second = await attempt(
    server,
    `const items = [];
items.push(globalThis.leak, ({}).leak);
console.log(JSON.stringify(items));`,
  );
  strictEqual(second.result.type, "success", second.result.stderr);
  strictEqual(second.result.stdout, "[null,null]\n");
  assertNotLeaked(second.result, secret);
  await assertStillServes(server);
});

Deno.test("Each execution sees a different origin (location)", async () => {
  await using server = await startServer();
  const code = `console.log(new URL(import.meta.url).origin);`;
  const first = await attempt(server, code);
  const second = await attempt(server, code);
  strictEqual(first.result.type, "success", first.result.stderr);
  strictEqual(second.result.type, "success", second.result.stderr);
  strictEqual(first.result.stdout.endsWith(".progtc.invalid\n"), true, first.result.stdout);
  strictEqual(first.result.stdout === second.result.stdout, false, "the origin is shared");
  await assertStillServes(server);
});
