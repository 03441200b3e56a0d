import { type Permission, ROLE_PERMISSIONS, ROLES, type Role } from "./roles.ts";

/** One operation as /openapi.json documents its authorization (routes/registry.ts). */
interface DocumentedOperation {
  readonly "x-credential": string;
  readonly "x-permission": Permission;
  readonly "x-roles": readonly Role[];
}
export type OpenApiPaths = Readonly<Record<string, Readonly<Record<string, DocumentedOperation>>>>;

export interface RouteRow {
  readonly method: string;
  readonly path: string;
  readonly credential: string;
  readonly permission: Permission;
  readonly roles: readonly Role[];
}

/** Every route with the roles that may call it, in path then method order. */
export function routeTable(paths: OpenApiPaths): RouteRow[] {
  return Object.entries(paths)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        credential: op["x-credential"],
        permission: op["x-permission"],
        roles: op["x-roles"],
      })),
    )
    .sort((a, b) =>
      a.path === b.path ? a.method.localeCompare(b.method) : a.path.localeCompare(b.path),
    );
}

const PERMISSION_TEXT: Readonly<Record<Permission, string>> = {
  public: "no credential",
  appliance: "the appliance's client certificate",
  "signed-in": "any signed-in principal",
  read: "reads within scope",
  decide: "changes within scope",
  evidence: "packets and exports within scope (and window)",
  admin: "the whole control plane",
};

/** docs/access.md: the role table, then every route × role, generated from the registry. */
export function renderAccessDoc(rows: readonly RouteRow[]): string {
  const roles = ROLES.join(" | ");
  const permissions = (Object.keys(PERMISSION_TEXT) as Permission[])
    .filter((p) => p !== "public" && p !== "appliance")
    .map(
      (p) =>
        `| \`${p}\` | ${PERMISSION_TEXT[p]} | ${ROLES.map((r) => (ROLE_PERMISSIONS[r].includes(p as never) ? "yes" : "no")).join(" | ")} |`,
    );
  const routes = rows.map(
    (r) =>
      `| ${r.method} | \`${r.path}\` | ${r.credential} | ${r.permission} | ${ROLES.map((role) =>
        r.permission === "public" ? "public" : r.roles.includes(role) ? "yes" : "no",
      ).join(" | ")} |`,
  );
  return `# Access: roles, scopes and every route

Generated from the route registry by \`npm run docs:access\`; a test fails when this file and
the registry disagree, and another walks every route with every role over HTTPS and checks the
answers against this table.

Each route declares one permission; each role holds a set of permissions. Scope is separate:
a principal sees the tenants of its scope (all, or a list), and an auditor also only the months
and export bounds inside its date window, until its access expires. The same check serves the
operator API (API tokens under \`/v1/admin\`, sessions under \`/v1/operator\`) and the dashboard.

- A \`{tenant}\` outside the caller's scope, or a month or export bound outside an auditor's
  window, answers **404**, whatever the role: another tenant's existence is never revealed.
- A route in scope whose permission the role lacks answers **403**.
- Both refusals are audit events (\`access.denied\`) with the real actor.

## Roles

| permission | meaning | ${roles} |
|---|---|${ROLES.map(() => "---").join("|")}|
${permissions.join("\n")}

## Routes

| method | path | credential | permission | ${roles} |
|---|---|---|---|${ROLES.map(() => "---").join("|")}|
${routes.join("\n")}
`;
}
