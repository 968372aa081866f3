/**
 * Main module of a Deno sandbox host, started by the server with no permissions: it runs one
 * TypeScript/JavaScript program at a time, each in a fresh permission-`none` worker (see
 * `../host_main.ts`).
 *
 * @module
 */
import { runHost } from "../host_main.ts";
import { workerSource } from "../realm.ts";
import { workerMain } from "./worker_main.ts";

const source = URL.createObjectURL(
  new Blob([workerSource(workerMain)], { type: "text/javascript" }),
);

runHost({
  create: () =>
    new Worker(source, { type: "module", name: "program", deno: { permissions: "none" } }),
  init: () => ({ data: {}, transfer: [] }),
  precreate: "ahead",
});
