/**
 * How the client reaches its server: a JSON `POST` with the client's headers, where a network
 * failure is a {@linkcode ProgtcConnectionError} that names the URL. Runtime-neutral: only
 * `fetch`.
 *
 * @module
 */
import { ProgtcConnectionError } from "./errors.ts";

/** POSTs `body` as JSON to `path` of the server, with `headers` too; a string is JSON text. */
export type Post = (
  path: string,
  body: unknown,
  signal: AbortSignal | undefined,
  headers?: Record<string, string>,
) => Promise<Response>;

/**
 * A {@linkcode Post} to the server at `baseUrl` (no trailing slash) through `fetchFn`, with
 * `clientHeaders` on every request. An abort rejects as the caller's; any other failure as a
 * {@linkcode ProgtcConnectionError}.
 */
export function poster(
  fetchFn: typeof fetch,
  baseUrl: string,
  clientHeaders: Record<string, string>,
): Post {
  return (path, body, signal, headers = {}) => {
    const url = `${baseUrl}${path}`;
    return fetchFn(url, {
      method: "POST",
      headers: { ...clientHeaders, ...headers, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...(signal ? { signal } : {}),
    }).catch((error) => {
      // An abort is the caller's; anything else is the network's: say where we tried to go.
      if (signal?.aborted || (error as Error)?.name === "AbortError") throw error;
      throw new ProgtcConnectionError(url, error);
    });
  };
}
