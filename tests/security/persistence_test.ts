/**
 * Cross-execution attempts: nothing one program stores (web storage, the Cache API, globals)
 * is visible to the next program on the same server, also when the same sandbox host runs both.
 * (`reuse_test.ts` tries the other channels a reused host could have.)
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import {
  assertNotLeaked,
  assertStillServes,
  attempt,
  marker,
  printedPid,
  startOneHostServer,
  startServer,
} from "./_attempt.ts";

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
  await using server = await startOneHostServer();
  const first = await attempt(
    server,
    `console.log(Deno.pid);
${FIND_STORAGE}
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
  const pid = printedPid(first.result);
  strictEqual(
    first.result.stdout,
    `${pid}\nundefined undefined undefined undefined undefined undefined undefined ` +
      "ReferenceError ReferenceError\n",
  );

  const second = await attempt(
    server,
    `console.log(Deno.pid);
${FIND_STORAGE}
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
  // The same host ran both programs.
  strictEqual(second.result.stdout, `${pid}\n[null,null]\n`);
  await assertStillServes(server);
});

Deno.test("A global set by one execution is not visible to the next", async () => {
  const secret = marker();
  await using server = await startOneHostServer();
  const first = await attempt(
    server,
    `console.log(Deno.pid);
globalThis.leak = "${secret}";
Object.prototype.leak = "${secret}";
Array.prototype.push = () => { throw new Error("${secret}"); };
console.log(globalThis.leak === "${secret}");`,
  );
  const pid = printedPid(first.result);
  strictEqual(first.result.stdout, `${pid}\ntrue\n`);
  const second = await attempt(
    server,
    `const items = [];
items.push(Deno.pid, globalThis.leak, ({}).leak);
console.log(JSON.stringify(items));`,
  );
  strictEqual(second.result.type, "success", second.result.stderr);
  strictEqual(second.result.stdout, `[${pid},null,null]\n`);
  assertNotLeaked(second.result, secret);
  await assertStillServes(server);
});

Deno.test("Each sandbox host has an origin (location) of its own", async () => {
  await using server = await startServer({ poolSize: 2 });
  // Two programs at once run in two hosts.
  const code = `import { wait } from "tools"; await wait(); console.log(location.origin);`;
  let arrived = 0;
  const both = Promise.withResolvers<void>();
  const wait = () => {
    if (++arrived === 2) both.resolve();
    return both.promise;
  };
  const [first, second] = await Promise.all([
    attempt(server, code, { tools: { wait } }),
    attempt(server, code, { tools: { wait } }),
  ]);
  strictEqual(first.result.type, "success", first.result.stderr);
  strictEqual(second.result.type, "success", second.result.stderr);
  strictEqual(first.result.stdout.endsWith(".progtc.invalid\n"), true, first.result.stdout);
  strictEqual(first.result.stdout === second.result.stdout, false, "the origin is shared");
  await assertStillServes(server);
});
