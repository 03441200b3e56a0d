import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import type { AppEnv, Services } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { MAX_OPERATOR_BODY_BYTES, readBody } from "../http/body.ts";
import { checkCsrf, currentSession, SESSION_COOKIE } from "../middleware/operator-session/index.ts";

/**
 * The dashboard's CSRF token lives in its own `__Host-` cookie (Secure, HttpOnly,
 * SameSite=Strict) so each server-rendered form can carry it as a hidden field. It is the same
 * synchronizer token the JSON API takes in `x-csrf-token`: a POST must present it in the form,
 * and it must hash to the session's stored CSRF hash. A cross-site page can neither read the
 * cookie nor the page that embeds it, so it cannot forge the field.
 */
export const CSRF_COOKIE = "__Host-cp_dashboard_csrf";

export interface DashboardEnv extends AppEnv {
  Variables: AppEnv["Variables"] & { csrf: string };
}

export function setCsrfCookie(c: Context, csrf: string, maxMs: number) {
  setCookie(c, CSRF_COOKIE, csrf, {
    secure: true,
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    maxAge: Math.floor(maxMs / 1000),
  });
}

const FLASH_COOKIE = "__Host-cp_dashboard_flash";

/** The outcome of an action, shown once on the page the action redirects to. */
export function setFlash(c: Context, message: string) {
  setCookie(c, FLASH_COOKIE, message.slice(0, 300), {
    secure: true,
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    maxAge: 60,
  });
}

export function takeFlash(c: Context): string | undefined {
  const message = getCookie(c, FLASH_COOKIE);
  if (message !== undefined) deleteCookie(c, FLASH_COOKIE, { secure: true, path: "/" });
  return message;
}

export function clearCookies(c: Context) {
  deleteCookie(c, SESSION_COOKIE, { secure: true, path: "/" });
  deleteCookie(c, CSRF_COOKIE, { secure: true, path: "/" });
}

/**
 * A state-changing request must come from a page of this origin: browsers send
 * `Sec-Fetch-Site` and `Origin` on form posts, and a cross-site value is refused (this also
 * covers the sign-in form, which has no session yet).
 */
export function sameOrigin(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin") return false;
  const origin = c.req.header("origin");
  if (origin === undefined || origin === "null") return origin === undefined;
  return origin === new URL(c.req.url).origin;
}

/**
 * Signed-in pages: the operator session (the same one the JSON API uses) plus the dashboard's
 * CSRF cookie. A missing or expired session sends a GET to the sign-in page; a POST must be
 * same-origin and carry the CSRF token in its `csrf` field (the form is read once, by the same
 * reader the route's schema then checks). The operator is the audit actor.
 */
export function dashboardSession(s: Services) {
  return createMiddleware<DashboardEnv>(async (c, next) => {
    let signedIn: Awaited<ReturnType<typeof currentSession>>;
    const csrf = getCookie(c, CSRF_COOKIE);
    try {
      signedIn = await currentSession(
        s.store,
        s.now,
        getCookie(c, SESSION_COOKIE),
        s.signIn.session,
      );
      // A session made by the JSON API has no dashboard token: sign in here again.
      checkCsrf(signedIn.session, csrf, "sign in to the dashboard");
    } catch (error) {
      if (c.req.method === "GET" || c.req.method === "HEAD") return c.redirect("/dashboard/login");
      throw error;
    }
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      if (!sameOrigin(c)) throw new ControlPlaneError("csrf_failed", "cross-site form refused");
      const form = (await readBody(c, "form", MAX_OPERATOR_BODY_BYTES)) as { csrf?: unknown };
      checkCsrf(
        signedIn.session,
        typeof form.csrf === "string" ? form.csrf : undefined,
        "missing or wrong csrf field",
      );
    }
    c.set("csrf", csrf as string);
    c.set("adminActor", signedIn.principal.actor);
    c.set("principal", signedIn.principal);
    await next();
  });
}
