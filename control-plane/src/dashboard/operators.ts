import { html } from "hono/html";
import { z } from "zod";
import { ROLES } from "../access/roles.ts";
import type { Services } from "../env.ts";
import {
  changeGrant,
  createAccountWithMfa,
  createToken,
  describeOperator,
  describeToken,
  endSessions,
  parseGrant,
  resetPassword,
  revokeToken,
  setDisabled,
  unlock,
} from "../operator/accounts.ts";
import { resetMfa, type ShownSecret } from "../operator/mfa.ts";
import { TokenParams, UsernameParams } from "../routes/admin/operators.ts";
import { dashboardAuth, type Route } from "../routes/registry.ts";
import { badge, csrfField, type Html, when } from "./layout.ts";
import { back, dashboardRoute, FORM, HTML, show } from "./render.ts";

/** The grant fields of a form (checked by `parseGrant`, which names a bad field). */
const GrantFields = z.object({
  role: z.string().optional(),
  tenants: z.string().optional(),
  window_from: z.string().optional(),
  window_to: z.string().optional(),
  expires_at: z.string().optional(),
});

const grantInputs = (tenants = "all") => html`<select name="role" aria-label="role">${ROLES.map(
  (r) => html`<option>${r}</option>`,
)}</select>
<input name="tenants" value="${tenants}" aria-label="tenants (all or a comma list)" size="18">
<input name="window_from" placeholder="window from (auditor)" aria-label="window from" size="20">
<input name="window_to" placeholder="window to (auditor)" aria-label="window to" size="20">
<input name="expires_at" placeholder="access expires (optional)" aria-label="expires at" size="20">`;

const ACTIONS = [
  ["disable", "Disable"],
  ["enable", "Enable"],
  ["unlock", "Unlock"],
  ["reset-password", "Reset password"],
  ["reset-mfa", "Reset second factor"],
  ["revoke-sessions", "End sessions"],
] as const;

/**
 * Operator and API-token management in the dashboard (admins only): the same functions as the
 * admin API and the command line, each change audited with the signed-in admin as actor. A new
 * password or token is shown once, on the page the form answers with.
 */
export function operatorPages(s: Services): Route[] {
  const admin = dashboardAuth("admin");

  const operatorsBody = async (csrf: string, secret?: Html) => {
    const now = s.now();
    const operators = await s.store.listOperators();
    return html`${secret ?? ""}<h2>New operator</h2>
<form method="post" action="/dashboard/operators" class="inline">${csrfField(csrf)}
<input name="username" required aria-label="username" placeholder="username">${grantInputs()}<button class="primary">Create</button></form>
<h2>Operators</h2><table><thead><tr><th>Operator</th><th>Role</th><th>Scope</th><th>Access ends</th><th>State</th><th>Actions</th></tr></thead><tbody>${operators.map(
      (o) => {
        const d = describeOperator(o);
        const base = `/dashboard/operators/${o.username}`;
        return html`<tr data-operator="${o.username}"><td>${o.username}</td><td>${d.role}</td>
<td class="mono">${JSON.stringify(d.scope)}</td><td>${when(o.expiresAt, now)}</td>
<td>${d.disabled ? badge("disabled", "bad") : badge("active", "ok")}</td>
<td>${ACTIONS.map(
          ([action, label]) =>
            html`<form method="post" action="${base}/${action}" class="inline">${csrfField(csrf)}<button>${label}</button></form>`,
        )}
<form method="post" action="${base}/grant" class="inline">${csrfField(csrf)}${grantInputs(
          d.scope.tenants === "*" ? "all" : d.scope.tenants.join(","),
        )}<button>Change role</button></form></td></tr>`;
      },
    )}</tbody></table>`;
  };

  const tokensBody = async (csrf: string, secret?: Html) => {
    const now = s.now();
    const tokens = (await s.store.listAdminTokens()).map(describeToken);
    return html`${secret ?? ""}<h2>New API token</h2>
<form method="post" action="/dashboard/tokens" class="inline">${csrfField(csrf)}
<input name="name" required aria-label="token name" placeholder="name">${grantInputs()}<button class="primary">Create</button></form>
<h2>API tokens</h2><table><thead><tr><th>Name</th><th>Id</th><th>Role</th><th>Scope</th><th>Created by</th><th>Expires</th><th>Last used</th><th></th></tr></thead><tbody>${tokens.map(
      (
        t,
      ) => html`<tr data-token="${t.token_id}"><td>${t.name}</td><td class="mono">${t.token_id}</td><td>${t.role}</td>
<td class="mono">${JSON.stringify(t.scope)}</td><td>${t.created_by ?? "—"}</td><td>${when(t.expires_at, now)}</td><td>${when(t.last_used_at, now)}</td>
<td>${
        t.revoked
          ? badge("revoked", "bad")
          : html`<form method="post" action="/dashboard/tokens/${t.token_id}/revoke" class="inline">${csrfField(csrf)}<button>Revoke</button></form>`
      }</td></tr>`,
    )}</tbody></table>`;
  };

  const shownOnce = (what: string, value: string) =>
    html`<p class="notice ok" role="status">${what} (shown once): <code id="secret">${value}</code></p>`;

  const shownTotp = (username: string, totp: ShownSecret) =>
    html`<p class="notice ok" role="status">Second factor of ${username} (shown once): <code id="totp-uri">${totp.otpauth_uri}</code> base32 <code id="totp-secret">${totp.secret}</code></p>`;

  const operatorAction = (
    action: (typeof ACTIONS)[number][0],
    run: (actor: string, username: string) => Promise<unknown>,
    done: string,
  ) =>
    dashboardRoute({
      method: "post",
      path: `/operators/{username}/${action}`,
      operationId: `operator_${action.replace("-", "_")}`,
      summary: `Operator management: ${done}`,
      auth: admin,
      params: UsernameParams,
      ...FORM,
      handler: async (c, { params }) => {
        await run(c.get("adminActor"), params.username);
        return back(c, "/dashboard/operators", `${params.username}: ${done}.`);
      },
    });

  return [
    dashboardRoute({
      method: "get",
      path: "/operators",
      operationId: "operators",
      summary: "Operators: create, disable, change role and scope, reset, unlock, end sessions",
      auth: admin,
      response: HTML,
      handler: async (c) =>
        show(c, "Operators", "/dashboard/operators", await operatorsBody(c.get("csrf"))),
    }),
    dashboardRoute({
      method: "post",
      path: "/operators",
      operationId: "operator_create",
      summary: "Create an operator; its generated password is shown once",
      auth: admin,
      bodyType: "form",
      body: GrantFields.extend({ username: z.string() }),
      response: HTML,
      handler: async (c, { body }) => {
        const { password, totp } = await createAccountWithMfa(s, c.get("adminActor"), {
          username: body.username,
          grant: parseGrant(body),
        });
        const secret = html`${shownOnce(`Password of ${body.username}`, password)}${
          totp ? shownTotp(body.username, totp) : ""
        }`;
        return show(
          c,
          "Operators",
          "/dashboard/operators",
          await operatorsBody(c.get("csrf"), secret),
        );
      },
    }),
    dashboardRoute({
      method: "post",
      path: "/operators/{username}/grant",
      operationId: "operator_grant",
      summary: "Change an operator's role, scope and expiry",
      auth: admin,
      params: UsernameParams,
      body: GrantFields,
      ...FORM,
      handler: async (c, { params, body }) => {
        const o = await changeGrant(s, c.get("adminActor"), params.username, parseGrant(body));
        return back(c, "/dashboard/operators", `${o.username} is now ${o.role}.`);
      },
    }),
    operatorAction("disable", (a, u) => setDisabled(s, a, u, true), "disabled"),
    operatorAction("enable", (a, u) => setDisabled(s, a, u, false), "enabled"),
    operatorAction("unlock", (a, u) => unlock(s, a, u), "sign-in failures cleared"),
    operatorAction("revoke-sessions", (a, u) => endSessions(s, a, u), "sessions ended"),
    dashboardRoute({
      method: "post",
      path: "/operators/{username}/reset-password",
      operationId: "operator_reset_password",
      summary: "Reset an operator's password; the new one is shown once",
      auth: admin,
      params: UsernameParams,
      bodyType: "form",
      response: HTML,
      handler: async (c, { params }) => {
        const { password } = await resetPassword(s, c.get("adminActor"), params.username);
        const secret = shownOnce(`New password of ${params.username}`, password);
        return show(
          c,
          "Operators",
          "/dashboard/operators",
          await operatorsBody(c.get("csrf"), secret),
        );
      },
    }),
    dashboardRoute({
      method: "post",
      path: "/operators/{username}/reset-mfa",
      operationId: "operator_reset_mfa",
      summary: "Recover an operator's second factor; the new secret is shown once",
      auth: admin,
      params: UsernameParams,
      bodyType: "form",
      response: HTML,
      handler: async (c, { params }) => {
        const totp = await resetMfa(s, c.get("adminActor"), params.username);
        return show(
          c,
          "Operators",
          "/dashboard/operators",
          await operatorsBody(c.get("csrf"), shownTotp(params.username, totp)),
        );
      },
    }),
    dashboardRoute({
      method: "get",
      path: "/tokens",
      operationId: "tokens",
      summary: "Named API tokens: create and revoke",
      auth: admin,
      response: HTML,
      handler: async (c) =>
        show(c, "API tokens", "/dashboard/tokens", await tokensBody(c.get("csrf"))),
    }),
    dashboardRoute({
      method: "post",
      path: "/tokens",
      operationId: "token_create",
      summary: "Create a named API token; it is shown once",
      auth: admin,
      bodyType: "form",
      body: GrantFields.extend({ name: z.string() }),
      response: HTML,
      handler: async (c, { body }) => {
        const { token } = await createToken(s, c.get("adminActor"), {
          name: body.name,
          grant: parseGrant(body),
        });
        const secret = shownOnce(`Token ${body.name}`, token);
        return show(c, "API tokens", "/dashboard/tokens", await tokensBody(c.get("csrf"), secret));
      },
    }),
    dashboardRoute({
      method: "post",
      path: "/tokens/{token}/revoke",
      operationId: "token_revoke",
      summary: "Revoke a named API token",
      auth: admin,
      params: TokenParams,
      ...FORM,
      handler: async (c, { params }) => {
        await revokeToken(s, c.get("adminActor"), params.token);
        return back(c, "/dashboard/tokens", `Token ${params.token} revoked.`);
      },
    }),
  ];
}
