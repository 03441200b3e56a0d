import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { type Role, roleMay, type StaffPermission } from "../access/roles.ts";

/** What a template returns; every interpolated string is HTML-escaped by `html`. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The pages in the header, each with the permission its route declares. */
export const NAV: readonly (readonly [string, string, StaffPermission])[] = [
  ["/dashboard", "Sites", "read"],
  ["/dashboard/incidents", "Incidents", "read"],
  ["/dashboard/orders", "Orders", "read"],
  ["/dashboard/evidence", "Evidence", "read"],
  ["/dashboard/proposals", "Flywheel", "read"],
  ["/dashboard/changes", "Approvals", "read"],
  ["/dashboard/packets", "Packets", "evidence"],
  ["/dashboard/audit", "Audit log", "admin"],
  ["/dashboard/operators", "Operators", "admin"],
  ["/dashboard/tokens", "API tokens", "admin"],
];

/** One stylesheet, served by the dashboard itself (the CSP allows no inline style). */
export const STYLESHEET = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2733;background:#f4f6f8}
header{background:#17324d;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap}
header strong{margin-right:1rem}
header a{color:#cfe3f7;text-decoration:none}
header a.here{color:#fff;font-weight:600;border-bottom:2px solid #7fb8ef}
header form{margin-left:auto}
main{padding:1rem 1.2rem;max-width:1200px}
h1{font-size:1.3rem;margin:.2rem 0 1rem}
h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1rem}
th,td{text-align:left;padding:.35rem .55rem;border-bottom:1px solid #e1e6eb;vertical-align:top}
th{background:#eef2f6;font-weight:600}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
td.mono{word-break:break-all}
time{white-space:nowrap}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.8em;background:#dde3ea}
.ok{background:#d5f0dc;color:#185c2b}.bad{background:#f8d7d7;color:#7d1b1b}.warn{background:#fdecc8;color:#6b4a00}
form.inline{display:inline-flex;gap:.3rem;align-items:center;margin:.15rem 0}
input,select,button{font:inherit;padding:.2rem .4rem}
button{cursor:pointer;border:1px solid #8da2b5;background:#fff;border-radius:3px}
button.primary{background:#1f5f99;color:#fff;border-color:#1f5f99}
.notice{padding:.5rem .8rem;border-radius:3px;margin-bottom:1rem}
.muted{color:#66727f}
.login{max-width:22rem;margin:4rem auto;background:#fff;padding:1.5rem;border:1px solid #d5dde5}
.login label{display:block;margin:.6rem 0 .2rem}.login input{width:100%}
.login button{margin-top:1rem;width:100%}
`;

export interface PageOptions {
  readonly title: string;
  readonly actor?: string;
  /** The signed-in role: the header links only the pages it may open. */
  readonly role?: Role;
  readonly csrf?: string;
  readonly path?: string;
  readonly notice?: { readonly kind: "ok" | "bad"; readonly text: string };
}

export function page(options: PageOptions, body: Html): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${options.title} · MSP Compliance</title><link rel="stylesheet" href="/dashboard/style.css"></head>
<body><header><strong>MSP Compliance</strong>${
    options.actor
      ? html`${NAV.filter(
          ([, , permission]) => !options.role || roleMay(options.role, permission),
        ).map(
          ([href, label]) =>
            html`<a href="${href}"${options.path === href ? html` class="here"` : ""}>${label}</a>`,
        )}<form method="post" action="/dashboard/logout" class="inline"><span>${options.actor}</span>${csrfField(options.csrf)}<button>Sign out</button></form>`
      : ""
  }</header>
<main><h1>${options.title}</h1>${
    options.notice
      ? html`<p class="notice ${options.notice.kind}" role="status">${options.notice.text}</p>`
      : ""
  }${body}</main></body></html>`;
}

export function csrfField(csrf: string | undefined): Html {
  return csrf ? html`<input type="hidden" name="csrf" value="${csrf}">` : html``;
}

/** A status word as a coloured badge. */
export function badge(text: string, kind: "ok" | "bad" | "warn" | "" = ""): Html {
  return html`<span class="badge ${kind}">${text}</span>`;
}

/** An ISO time shown as itself plus its age relative to `now` ("—" when absent). */
export function when(iso: string | null | undefined, now: Date): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  const s = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  const age =
    s < 0
      ? "in the future"
      : s < 120
        ? `${s} s ago`
        : s < 7200
          ? `${Math.round(s / 60)} min ago`
          : s < 172800
            ? `${Math.round(s / 3600)} h ago`
            : `${Math.round(s / 86400)} d ago`;
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(0, 19).replace("T", " ")}</time> <span class="muted">(${age})</span>`;
}
