import type { Context } from "hono";
import { HTML_PAGE, routeFor } from "../routes/registry.ts";
import { type Html, page } from "./layout.ts";
import { type DashboardEnv, setFlash, takeFlash } from "./session.ts";

/** A signed-in page: the layout with the actor, role, CSRF token and any flash message. */
export const show = (c: Context<DashboardEnv>, title: string, path: string, body: Html) => {
  const done = takeFlash(c);
  return c.html(
    page(
      {
        title,
        path,
        actor: c.get("adminActor"),
        role: c.get("principal").role,
        csrf: c.get("csrf"),
        ...(done ? { notice: { kind: "ok" as const, text: done } } : {}),
      },
      body,
    ),
  );
};

// The outcome travels in a short-lived cookie, not the URL, so no link can put words in it.
export const back = (c: Context, path: string, done: string) => {
  setFlash(c, done);
  return c.redirect(path, 303);
};

export const dashboardRoute = routeFor<DashboardEnv>();
export const HTML = { schema: HTML_PAGE, contentType: "text/html" } as const;
export const FORM = { bodyType: "form", response: { status: 303 } } as const;
