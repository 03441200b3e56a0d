import { z } from "zod";
import { TenantId, Timestamp } from "#protocol";

/**
 * Who may do what. Each route declares one permission (routes/registry.ts); a role is the set
 * of permissions it holds. Reach is separate from the role: a principal's scope names the
 * tenants it sees, and an auditor's access also has a date window and an expiry.
 *
 * - `public`, `appliance`: no operator involved (the credential guard is the whole rule).
 * - `signed-in`: any signed-in principal (who am I, sign out).
 * - `read`: reads within scope (sites, incidents, orders, evidence, proposals).
 * - `decide`: changes within scope (incidents, orders, proposals, appliances, policies).
 * - `evidence`: packets and evidence exports within scope (and window, for an auditor).
 * - `admin`: the whole control plane (operators, tokens, audit log, queue, kill switch, sites).
 */
export const PERMISSIONS = [
  "public",
  "appliance",
  "signed-in",
  "read",
  "decide",
  "evidence",
  "admin",
] as const;
export type Permission = (typeof PERMISSIONS)[number];
/** The permissions a role can hold (the others are about credentials, not people). */
export type StaffPermission = Exclude<Permission, "public" | "appliance">;

export const ROLES = ["admin", "operator", "viewer", "auditor"] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/** The one table of what each role may do; docs/access.md is generated from it. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly StaffPermission[]>> = {
  admin: ["signed-in", "read", "decide", "evidence", "admin"],
  operator: ["signed-in", "read", "decide", "evidence"],
  viewer: ["signed-in", "read", "evidence"],
  auditor: ["signed-in", "evidence"],
};

export const roleMay = (role: Role, permission: Permission): boolean =>
  permission === "public" ||
  (permission !== "appliance" && ROLE_PERMISSIONS[role].includes(permission));

/** The roles holding a permission, in table order. */
export const rolesWith = (permission: Permission): Role[] =>
  ROLES.filter((role) => permission !== "public" && roleMay(role, permission));

/**
 * A principal's reach: every tenant (`"*"`) or the listed ones; an auditor's access also
 * covers only `window` (RFC 3339 UTC instants, from inclusive, to exclusive).
 */
export const Scope = z.strictObject({
  tenants: z.union([z.literal("*"), z.array(TenantId).max(1000)]),
  window: z.strictObject({ from: Timestamp, to: Timestamp }).optional(),
});
export type Scope = z.infer<typeof Scope>;
export const ALL_TENANTS: Scope = { tenants: "*" };

/** Who is asking: the audit actor, the role and its reach. */
export interface Principal {
  readonly actor: string;
  readonly role: Role;
  readonly scope: Scope;
}

export const inScope = (scope: Scope, tenant: string): boolean =>
  scope.tenants === "*" || scope.tenants.includes(tenant);

/** The tenants of `all` that a scope sees, in their order. */
export const visibleTenants = (scope: Scope, all: readonly string[]): string[] =>
  all.filter((t) => inScope(scope, t));

/** A stored scope (JSON text); an unreadable one sees nothing rather than everything. */
export function parseScope(json: string): Scope {
  try {
    const parsed = Scope.safeParse(JSON.parse(json));
    if (parsed.success) return parsed.data;
  } catch {}
  return { tenants: [] };
}
