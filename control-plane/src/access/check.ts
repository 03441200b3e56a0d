import { inScope, type Permission, type Principal, roleMay, type Scope } from "./roles.ts";

/** Why a request was refused: 404 outside the principal's reach, 403 within it. */
export interface Denial {
  readonly code: "not_found" | "forbidden";
  readonly reason: "out_of_scope" | "outside_window" | "role";
}

/**
 * The one access decision for every surface (operator API, dashboard and any later one), made
 * from the route's declared permission and its validated path parameters:
 * 1. a `{tenant}` the scope does not reach is a 404, whatever the role, so that a tenant's
 *    existence is never revealed outside it;
 * 2. a permission the role lacks is a 403 (the object is in reach, the action is not).
 */
export function checkAccess(
  principal: Principal,
  permission: Permission,
  params: Readonly<Record<string, unknown>> | undefined,
): Denial | undefined {
  const tenant = params?.tenant;
  if (typeof tenant === "string" && !inScope(principal.scope, tenant))
    return { code: "not_found", reason: "out_of_scope" };
  if (!roleMay(principal.role, permission)) return { code: "forbidden", reason: "role" };
  return undefined;
}

const MONTH = /^(\d{4})-(\d{2})$/;

/** The instants [from, to) a value of a request covers: a month (YYYY-MM) or an instant. */
function span(value: string): [number, number] | undefined {
  const month = MONTH.exec(value);
  if (month) {
    const [y, m] = [Number(month[1]), Number(month[2])];
    return [Date.UTC(y, m - 1, 1), Date.UTC(y, m, 1)];
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : [at, at];
}

/**
 * An auditor's date window, checked once the request is validated: the month of a packet
 * (`month`, which must overlap the window) and the bounds of an export (`from`, `to`, which
 * must lie inside it). Anything outside is, like another tenant, a 404.
 */
export function checkWindow(
  scope: Scope,
  ...inputs: (Readonly<Record<string, unknown>> | undefined)[]
): Denial | undefined {
  if (!scope.window) return undefined;
  const from = Date.parse(scope.window.from);
  const to = Date.parse(scope.window.to);
  for (const input of inputs) {
    for (const key of ["month", "from", "to"] as const) {
      const value = input?.[key];
      if (typeof value !== "string") continue;
      const covered = span(value);
      const inside =
        covered !== undefined &&
        (key === "month"
          ? covered[0] < to && covered[1] > from
          : covered[0] >= from && covered[1] <= to);
      if (!inside) return { code: "not_found", reason: "outside_window" };
    }
  }
  return undefined;
}
