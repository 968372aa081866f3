/**
 * Unit tests of `Capacity`, the bounded resource behind execution slots and the memory budget.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { Capacity } from "../server/capacity.ts";
import { delay } from "./_helpers.ts";

Deno.test("Capacity grants weighted shares in arrival order, and refuses after the wait", async () => {
  const capacity = new Capacity(10);
  strictEqual(await capacity.acquire(0, 6), true);
  const order: string[] = [];
  const big = capacity.acquire(1000, 8).then((ok) => order.push(`big ${ok}`));
  // Fits now, but waits behind the earlier request: no starving of large shares.
  const small = capacity.acquire(1000, 2).then((ok) => order.push(`small ${ok}`));
  await delay(10);
  deepStrictEqual(order, []);
  capacity.release(6);
  await Promise.all([big, small]);
  deepStrictEqual(order, ["big true", "small true"]);
  strictEqual(capacity.used, 10);
  strictEqual(await capacity.acquire(20, 1), false, "refused after waiting 20 ms");
  strictEqual(await capacity.acquire(0, 11), false, "more than the whole resource");
  capacity.release(10);
  strictEqual(capacity.used, 0);
});

Deno.test("Capacity asks the first waiter's reclaim for what it lacks, once per shortfall", async () => {
  const capacity = new Capacity(10);
  await capacity.acquire(0, 9);
  const asked: number[] = [];
  // Each reclaim frees 2 units, released a little later (as a paused sandbox is killed).
  const reclaim = (units: number) => {
    asked.push(units);
    setTimeout(() => capacity.release(2), 5);
    return 2;
  };
  strictEqual(await capacity.acquire(1000, 5, reclaim), true);
  deepStrictEqual(asked, [4, 2], "lacking 4: two reclaims of 2, and no more while they free");
  strictEqual(capacity.used, 10);
  const none = () => 0;
  strictEqual(await capacity.acquire(20, 1, none), false, "nothing to reclaim: refused");
});
