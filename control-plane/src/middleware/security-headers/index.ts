import { createMiddleware } from "hono/factory";

/**
 * Headers on every answer (JSON, problems, files, metrics), each unless the route set its
 * own (the dashboard sets its page policy): nothing is cached by a browser or proxy, nothing
 * is sniffed into another type, framed or given a referrer, and browsers keep to HTTPS.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
  "strict-transport-security": "max-age=31536000",
};

export function securityHeaders() {
  return createMiddleware(async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!c.res.headers.has(name)) c.header(name, value);
    }
  });
}
