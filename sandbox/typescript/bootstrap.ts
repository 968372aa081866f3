/**
 * Main module of a TypeScript/JavaScript sandbox host, started by the server with no
 * permission but the one to open its socket: it runs the programs the server sends it, several
 * at once, each in a fresh permission-`none` worker (see `../host.ts`).
 *
 * Runs in the untrusted sandbox host. Imports sandbox files only.
 *
 * @module
 */
import { runHost } from "../host.ts";
import { HOST_SPARES } from "../messages.ts";
import { workerSource } from "../realm.ts";
import { programErrors } from "./program_errors.ts";
import { toolCalls } from "./tool_calls.ts";
import { workerMain } from "./worker.ts";

await runHost({
  source: workerSource(workerMain, { programErrors, toolCalls }),
  permissions: "none",
  init: () => ({ message: {}, transfer: [] }),
  spares: HOST_SPARES.deno,
});
