/**
 * A reference process for memory: a bare Deno process that does nothing (or, with the argument
 * `worker`, holds one idle module worker, as a sandbox does). Prints `ready` when settled.
 *
 * @module
 */
if (import.meta.main) {
  if (Deno.args[0] === "worker") {
    const source = "self.onmessage = () => {}; postMessage('up');";
    const worker = new Worker(
      URL.createObjectURL(new Blob([source], { type: "text/javascript" })),
      {
        type: "module",
      },
    );
    await new Promise((resolve) => worker.onmessage = resolve);
  }
  setInterval(() => {}, 1 << 30);
  console.log("ready");
}
