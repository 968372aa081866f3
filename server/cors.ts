/**
 * An opt-in CORS allowlist: browser pages of the listed origins may call the server. Others get
 * no CORS headers at all (the browser then refuses the response); no credentials are involved
 * (the API key is a header, which the preflight allows).
 *
 * @module
 */

/** Request headers a page may send: the key (either form), JSON, the language, trace context. */
export const CORS_ALLOW_HEADERS =
  "x-progtc-api-key, authorization, content-type, x-progtc-language, traceparent, prefer";

/** Response headers a page may read. */
export const CORS_EXPOSE_HEADERS = "x-progtc-execution-id";

type Handler = (request: Request) => Promise<Response>;

/**
 * Wraps `handler` so that requests from `origins` (exact `scheme://host[:port]`) get CORS
 * headers and their preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered
 * `204`. With no origins, `handler` is returned unchanged.
 *
 * @example
 * ```ts
 * import { withCors } from "./cors.ts";
 * const app = withCors(() => Promise.resolve(new Response("ok")), ["https://app.example"]);
 * const preflight = await app(new Request("http://x/execute-code", {
 *   method: "OPTIONS",
 *   headers: { origin: "https://app.example", "access-control-request-method": "POST" },
 * }));
 * console.assert(preflight.status === 204);
 * ```
 */
export function withCors(handler: Handler, origins: readonly string[]): Handler {
  if (origins.length === 0) return handler;
  const allowed = new Set(origins.map(normalizeOrigin));
  return async (request) => {
    const origin = request.headers.get("origin");
    if (origin === null || !allowed.has(normalizeOrigin(origin))) return await handler(request);
    if (request.method === "OPTIONS" && request.headers.has("access-control-request-method")) {
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": "GET, POST",
          "access-control-allow-headers": CORS_ALLOW_HEADERS,
          "access-control-max-age": "600",
          vary: "Origin",
        },
      });
    }
    const response = await handler(request);
    const headers = new Headers(response.headers);
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-expose-headers", CORS_EXPOSE_HEADERS);
    headers.append("vary", "Origin");
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}

/** `https://App.example:443/` → `https://app.example`; unparsable origins stay as they are. */
export function normalizeOrigin(origin: string): string {
  try {
    const url = new URL(origin);
    return url.origin === "null" ? origin : url.origin;
  } catch {
    return origin;
  }
}
