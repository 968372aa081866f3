/**
 * A reference process for memory: a bare Deno process that does nothing (or, with the argument
 * `worker`, holds one idle module worker, as a sandbox does). Prints `ready` when settled and
 * ends when stdin closes.
 *
 * @module
 */
if (import.meta.main) {
  let worker: Worker | undefined;
  if (Deno.args[0] === "worker") {
    const source = "self.onmessage = () => {}; postMessage('up');";
    worker = new Worker(
      URL.createObjectURL(new Blob([source], { type: "text/javascript" })),
      { type: "module" },
    );
    await new Promise((resolve) => worker!.onmessage = resolve);
  }
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
  worker?.terminate();
}
