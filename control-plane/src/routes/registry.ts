import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Context, Env, MiddlewareHandler } from "hono";
import { z } from "zod";
import { Problem } from "#protocol";
import { checkAccess, checkWindow, type Denial } from "../access/check.ts";
import {
  PERMISSIONS,
  type Permission,
  type Principal,
  rolesWith,
  type StaffPermission,
} from "../access/roles.ts";
import type { AppEnv } from "../env.ts";
import { ControlPlaneError } from "../errors.ts";
import { type BodyType, MAX_PUBLIC_BODY_BYTES, readBody, validate } from "../http/body.ts";

/**
 * How a caller proves who it is. `public` routes need nothing; every other credential has one
 * guard (built in app.ts) that refuses a request without it.
 */
export type Credential =
  | "public"
  | "appliance-mtls"
  | "admin-token"
  | "metrics-token"
  | "operator-session"
  | "dashboard-session";

/**
 * A route's authorization rule, declared beside it: the credentials that identify a caller
 * (any one admits; a surface enforces the one it serves: the operator API is the same route
 * behind an API token under /v1/admin and behind a session under /v1/operator), and the one
 * permission the caller's role must hold (access/roles.ts). `mount` refuses a route without a
 * permission, and enforces both for every surface in one place (`checkAccess`).
 */
export interface Authorization {
  readonly credentials: readonly Credential[];
  readonly permission: Permission;
}

export const PUBLIC: Authorization = { credentials: ["public"], permission: "public" };
export const APPLIANCE: Authorization = {
  credentials: ["appliance-mtls"],
  permission: "appliance",
};
/** The operator API: an API token or a session, and `permission`. */
export const operatorApi = (permission: StaffPermission): Authorization => ({
  credentials: ["admin-token", "operator-session"],
  permission,
});
/** Only with an API token (machine-facing: the work queue). */
export const tokenOnly = (permission: StaffPermission): Authorization => ({
  credentials: ["admin-token"],
  permission,
});
/** Only with a JSON-API session (sign-out, who am I). */
export const sessionOnly = (permission: StaffPermission): Authorization => ({
  credentials: ["operator-session"],
  permission,
});
/** A dashboard page or form. */
export const dashboardAuth = (permission: StaffPermission): Authorization => ({
  credentials: ["dashboard-session"],
  permission,
});

/** Credentials that identify a person or an API token holder, whose role and scope apply. */
const STAFF: readonly Credential[] = ["admin-token", "operator-session", "dashboard-session"];
/** The metrics scrape: the configured scrape token, or an admin token. */
export const METRICS: Authorization = { credentials: ["metrics-token"], permission: "admin" };

type Params = z.ZodObject | undefined;
type Body = z.ZodType | undefined;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  readonly params: Out<P>;
  readonly query: Out<Q>;
  readonly body: Out<B>;
}

/** Per-address request budgets a public route may ask for (one bucket set per route). */
export type LimitName = "enrollment" | "sign-in";

/**
 * A route's successful answer: a status with the schema of its body (JSON unless `contentType`
 * says otherwise), or a 303 redirect, which has no body.
 */
export type ResponseSpec =
  | {
      readonly status?: 200 | 201 | 202;
      readonly schema: z.ZodType;
      readonly contentType?: string;
      readonly description?: string;
    }
  | { readonly status: 303; readonly description?: string };

/** Bodies that are not JSON: a page, a stylesheet, the metrics text, a file. */
export const HTML_PAGE = z.string().meta({ description: "An HTML page" });
export const TEXT = z.string();
export const FILE_BYTES = z.string().meta({ format: "binary" });

export interface RouteSpec<P extends Params, Q extends Params, B extends Body, E extends Env> {
  readonly method: "get" | "post" | "put" | "delete";
  /** OpenAPI form (`/tenants/{tenant}`), relative to the surface it is mounted on. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly auth: Authorization;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** Default json; the dashboard's forms are urlencoded. */
  readonly bodyType?: BodyType;
  /** How a protocol message names itself in a 400 ("poll request is invalid: …"). */
  readonly bodyLabel?: string;
  /** One fixed answer for any invalid body (sign-in: the detail would help a guesser). */
  readonly invalidBody?: string;
  readonly limit?: LimitName;
  /** What it answers: required, so every operation in /openapi.json documents its answer. */
  readonly response: ResponseSpec;
  readonly handler: (c: Context<E>, input: RouteInput<P, Q, B>) => Response | Promise<Response>;
}

/** A declared route with its types erased, as surfaces hold them. */
export type Route = Omit<
  RouteSpec<Params, Params, Body, Env>,
  "handler" | "params" | "query" | "body"
> & {
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  readonly handler: (c: Context, input: RouteInput<z.ZodType, z.ZodType, z.ZodType>) => unknown;
};

/**
 * Declares a route once: the schemas validate the request (path, query and body, through the
 * one body reader), type the handler's `input`, and document the operation in /openapi.json;
 * `auth` is its authorization rule.
 */
export function defineRoute<
  E extends Env = AppEnv,
  P extends Params = undefined,
  Q extends Params = undefined,
  B extends Body = undefined,
>(spec: RouteSpec<P, Q, B, E>): Route {
  return spec as unknown as Route;
}

/** `defineRoute` for handlers on another context (the dashboard's), the rest still inferred. */
export const routeFor =
  <E extends Env>() =>
  <P extends Params = undefined, Q extends Params = undefined, B extends Body = undefined>(
    spec: RouteSpec<P, Q, B, E>,
  ): Route =>
    spec as unknown as Route;

/** Where a set of routes is served: a base path, the credentials it accepts, its body limit. */
export interface Surface {
  /** Prefix of each operationId and the operation's tag. */
  readonly name: string;
  readonly base: string;
  readonly serves: readonly Credential[];
  readonly maxBodyBytes: number;
  /** Errors render as HTML pages (the dashboard) instead of RFC 9457 problems. */
  readonly errorPages?: boolean;
}

export type Guards = Readonly<Record<Credential, readonly MiddlewareHandler[]>>;
export type Limits = Readonly<Record<LimitName, () => MiddlewareHandler>>;

const SECURITY: Readonly<Record<Credential, Record<string, string[]>[]>> = {
  public: [],
  "appliance-mtls": [{ applianceMtls: [] }],
  "admin-token": [{ adminToken: [] }],
  "metrics-token": [{ metricsToken: [] }, { adminToken: [] }],
  "operator-session": [{ operatorSession: [], csrfToken: [] }],
  "dashboard-session": [{ operatorSession: [] }],
};

export const SECURITY_SCHEMES = {
  applianceMtls: {
    type: "mutualTLS",
    description: "The appliance's client certificate issued at enrollment.",
  },
  adminToken: { type: "http", scheme: "bearer" },
  metricsToken: {
    type: "http",
    scheme: "bearer",
    description: "The metrics scrape token (serve config `metrics.scrape_token_file`).",
  },
  operatorSession: { type: "apiKey", in: "cookie", name: "__Host-cp_session" },
  csrfToken: {
    type: "apiKey",
    in: "header",
    name: "x-csrf-token",
    description: "Required on state-changing requests.",
  },
} as const;

/** The one credential a surface enforces for a route (undefined: not served there). */
export const credentialOn = (route: Route, surface: Surface): Credential | undefined =>
  route.auth.credentials.find((c) => surface.serves.includes(c));

/** The authorization middleware, derived from the route's declaration and the surface. */
export function authorize(credential: Credential, guards: Guards): readonly MiddlewareHandler[] {
  return guards[credential];
}

const honoPath = (path: string) => path.replaceAll(/\{([^}]+)\}/g, ":$1");
const join = (base: string, path: string) => (path === "/" && base ? base : `${base}${path}`);

/**
 * Registers each route the surface serves on `app` (handler and OpenAPI operation together):
 * per-address limit, the authorization guard, then the validated input for the handler.
 */
export function mount<E extends Env>(
  app: OpenAPIHono<E>,
  surface: Surface,
  routes: readonly Route[],
  guards: Guards,
  limits: Limits,
  options: MountOptions = {},
): void {
  for (const route of routes) {
    const credential = credentialOn(route, surface);
    if (!credential) continue;
    checkRule(route, surface);
    const path = join(surface.base, route.path);
    const bodyType = route.bodyType ?? "json";
    const staff = STAFF.includes(credential);
    const refuse = async (c: Context, denial: Denial | undefined) => {
      if (!denial) return;
      await options.onDenied?.(c, `${surface.name}_${route.operationId}`, denial);
      throw new ControlPlaneError(
        denial.code,
        denial.code === "forbidden" ? "your role may not do this" : "not found",
      );
    };
    // A route open to anyone reads a small body whatever its surface allows signed-in callers.
    const maxBodyBytes =
      credential === "public"
        ? Math.min(surface.maxBodyBytes, MAX_PUBLIC_BODY_BYTES)
        : surface.maxBodyBytes;
    const handle: MiddlewareHandler = async (c) => {
      const params = route.params ? validate(route.params, c.req.param(), "params") : undefined;
      // Reach and role before the body is read: out of reach is a 404, in reach a 403. The
      // metrics guard admits the scrape token (no principal) or an API token, whose role must
      // hold the route's permission like anywhere else.
      const principal = c.get("principal") as Principal | undefined;
      if (staff || (credential === "metrics-token" && principal))
        await refuse(c, checkAccess(principal as Principal, route.auth.permission, params));
      const input = {
        params,
        query: route.query ? validate(route.query, c.req.query(), "query") : undefined,
        body: route.body
          ? validate(
              route.body,
              await readBody(c, bodyType, maxBodyBytes),
              bodyType === "form" ? "form" : "body",
              route.invalidBody ?? route.bodyLabel,
              route.invalidBody !== undefined,
            )
          : undefined,
      };
      if (staff)
        await refuse(
          c,
          checkWindow(c.get("principal").scope, params, input.body as Record<string, unknown>),
        );
      const res = (await route.handler(c, input)) as Response;
      if (options.checkResponses) await checkResponse(route, surface, res);
      return res;
    };
    const chain: [MiddlewareHandler, ...MiddlewareHandler[]] = [
      ...(route.limit ? [limits[route.limit]()] : []),
      ...authorize(credential, guards),
      handle,
    ] as unknown as [MiddlewareHandler, ...MiddlewareHandler[]];
    app.on(route.method.toUpperCase(), honoPath(path), ...chain);
    app.openAPIRegistry.registerPath(operation(route, surface, path, credential, bodyType));
  }
}

/** A route must declare a permission that fits its credentials, or it is not served at all. */
function checkRule(route: Route, surface: Surface): void {
  const { credentials, permission } = route.auth;
  const fits = credentials.every((c) =>
    c === "public"
      ? permission === "public"
      : c === "appliance-mtls"
        ? permission === "appliance"
        : permission !== "public" && permission !== "appliance",
  );
  if (!PERMISSIONS.includes(permission) || !fits) {
    throw new ControlPlaneError(
      "invalid_config",
      `${surface.name}_${route.operationId} declares no permission that fits its credentials`,
    );
  }
}

export interface MountOptions {
  /** Told of every refusal by role, reach or window (the app writes it to the audit log). */
  readonly onDenied?: (c: Context, operation: string, denial: Denial) => Promise<void>;
  /**
   * Check each JSON answer against the route's declared schema and answer a 500 when it does
   * not match (tests turn this on, so a handler cannot drift from its documentation).
   */
  readonly checkResponses?: boolean;
}

async function checkResponse(route: Route, surface: Surface, res: Response): Promise<void> {
  const spec = route.response;
  if (!("schema" in spec) || res.status !== (spec.status ?? 200)) return;
  // Only declared JSON answers: a file route may serve a JSON file among its others.
  if ((spec.contentType ?? "application/json") !== "application/json") return;
  if (!(res.headers.get("content-type") ?? "").startsWith("application/json")) return;
  const parsed = spec.schema.safeParse(await res.clone().json());
  if (!parsed.success) {
    throw new ControlPlaneError(
      "internal",
      `${surface.name}_${route.operationId} answered outside its declared schema: ${z.prettifyError(parsed.error)}`,
    );
  }
}

function operation(
  route: Route,
  surface: Surface,
  path: string,
  credential: Credential,
  bodyType: BodyType,
): RouteConfig {
  const spec = route.response;
  const status = spec.status ?? 200;
  return {
    method: route.method,
    path,
    operationId: `${surface.name}_${route.operationId}`,
    summary: route.summary,
    tags: [surface.name],
    security: SECURITY[credential],
    "x-credential": credential,
    "x-permission": route.auth.permission,
    "x-roles": rolesWith(route.auth.permission),
    request: {
      ...(route.params ? { params: route.params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.body
        ? {
            body: {
              required: true,
              content: {
                [bodyType === "form" ? "application/x-www-form-urlencoded" : "application/json"]: {
                  schema: route.body,
                },
              },
            },
          }
        : {}),
    },
    responses: {
      [String(status)]: {
        description: spec.description ?? (status === 303 ? "See other" : "OK"),
        ...("schema" in spec
          ? { content: { [spec.contentType ?? "application/json"]: { schema: spec.schema } } }
          : {}),
      },
      "4XX": surface.errorPages
        ? { description: "An error page", content: { "text/html": { schema: {} } } }
        : {
            description: "RFC 9457 problem",
            content: { "application/problem+json": { schema: Problem } },
          },
    },
  };
}
