import type * as pulumi from "@pulumi/pulumi";

/**
 * The dynamic provider behind ApplianceEnrollment: a site registration in the control plane's
 * admin API. Pulumi serializes this object's closure into the state and runs it later in its
 * own process (Pulumi's closure serialization is fragile), so it stays a plain object whose
 * methods capture only the small functions of this file and take Node built-ins from
 * `process.getBuiltinModule` inside (no module import for the serializer to chase). The
 * admin token is read from the environment in every call and never becomes an input, an
 * output or part of the serialized closure; the enrollment token is made here, sent only as
 * its SHA-256, and returned as a secret output (`additionalSecretOutputs`).
 */
export interface EnrollmentInputs {
  readonly controlPlaneUrl: string;
  /** The control plane's server CA (PEM): the only CA trusted for the admin API's TLS. */
  readonly controlPlaneCaPem: string;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly macAddresses: readonly string[];
  readonly tenantCaCertPem: string;
  /** The tenant CA key (PKCS #8), handed to the control plane to sign appliance CSRs. Secret. */
  readonly tenantCaKeyPem: string;
  readonly retentionDays: number;
  readonly tokenTtlSeconds: number;
  /** Raise it to get a fresh one-time token (before enrollment). */
  readonly tokenGeneration: number;
}

export interface EnrollmentOutputs extends EnrollmentInputs {
  readonly enrollmentToken: string;
  readonly tokenExpiresAt: string;
  /** registered | pending | approved | active | revoked, as last seen. */
  readonly status: string;
}

/** Environment variables the provider reads (never stored). */
export const ADMIN_TOKEN_ENV = "MSP_ADMIN_TOKEN";
export const ADMIN_TOKEN_FILE_ENV = "MSP_ADMIN_TOKEN_FILE";

interface AdminAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** One admin API call over HTTPS that trusts only the pinned CA. */
async function adminCall(
  target: { readonly controlPlaneUrl: string; readonly controlPlaneCaPem: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<AdminAnswer> {
  const https = process.getBuiltinModule("node:https");
  const fs = process.getBuiltinModule("node:fs");
  const file = process.env.MSP_ADMIN_TOKEN_FILE;
  const token = process.env.MSP_ADMIN_TOKEN ?? (file ? fs.readFileSync(file, "utf8").trim() : "");
  if (!token) {
    throw new Error(
      "ApplianceEnrollment needs the control plane's admin token: set MSP_ADMIN_TOKEN or MSP_ADMIN_TOKEN_FILE",
    );
  }
  const url = new URL(path, target.controlPlaneUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method,
      ca: target.controlPlaneCaPem,
      agent: false,
      timeout: 30_000,
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/json",
        ...(payload === undefined ? {} : { "content-type": "application/json" }),
      },
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
    req.on("error", (e) =>
      reject(new Error(`${method} ${url.origin}${url.pathname}: ${e.message}`)),
    );
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = {};
        try {
          parsed = text ? JSON.parse(text) : {};
        } catch {
          parsed = {};
        }
        const answer = parsed !== null && typeof parsed === "object" ? parsed : {};
        resolve({ status: res.statusCode ?? 0, body: answer as Record<string, unknown> });
      });
    });
    req.end(payload);
  });
}

/** An error naming the call and the control plane's problem detail (which holds no secret). */
function refused(what: string, answer: AdminAnswer): Error {
  const detail = typeof answer.body.detail === "string" ? `: ${answer.body.detail}` : "";
  return new Error(`control plane refused ${what} (HTTP ${answer.status})${detail}`);
}

function appliancePath(inputs: { readonly tenantId: string; readonly applianceId: string }) {
  return `/v1/admin/tenants/${encodeURIComponent(inputs.tenantId)}/appliances/${encodeURIComponent(inputs.applianceId)}`;
}

/** A 256-bit one-time token and its SHA-256 (hex), which is all the control plane keeps. */
async function newToken(): Promise<{ token: string; sha256: string }> {
  const crypto = process.getBuiltinModule("node:crypto");
  const token = crypto.randomBytes(32).toString("base64url");
  return { token, sha256: crypto.createHash("sha256").update(token, "utf8").digest("hex") };
}

function sameMacs(a: readonly unknown[], b: readonly string[]): boolean {
  const left = [...a].map(String).sort();
  const right = [...b].sort();
  return left.length === right.length && left.every((m, i) => m === right[i]);
}

async function register(inputs: EnrollmentInputs): Promise<EnrollmentOutputs> {
  const { token, sha256 } = await newToken();
  const answer = await adminCall(inputs, "POST", "/v1/admin/sites", {
    tenant_id: inputs.tenantId,
    appliance_id: inputs.applianceId,
    ca_cert_pem: inputs.tenantCaCertPem,
    ca_key_pem: inputs.tenantCaKeyPem,
    mac_addresses: [...inputs.macAddresses],
    retention_days: inputs.retentionDays,
    enrollment_token_sha256: sha256,
    token_ttl_s: inputs.tokenTtlSeconds,
  });
  if (answer.status === 201) {
    return {
      ...inputs,
      enrollmentToken: token,
      tokenExpiresAt: String(answer.body.token_expires_at),
      status: "registered",
    };
  }
  if (answer.status === 409) {
    // A create retried after its answer was lost: the registration is ours if it has our
    // MACs and never enrolled; adopt it with a fresh token (the lost one is replaced).
    const current = await adminCall(inputs, "GET", appliancePath(inputs));
    if (
      current.status === 200 &&
      (current.body.status === "registered" || current.body.status === "pending") &&
      Array.isArray(current.body.mac_addresses) &&
      sameMacs(current.body.mac_addresses, inputs.macAddresses)
    ) {
      return rotate(inputs, String(current.body.status));
    }
    throw refused(
      `registering ${inputs.tenantId}/${inputs.applianceId}${current.status === 200 ? ` (it exists as ${String(current.body.status)})` : ""}`,
      answer,
    );
  }
  throw refused(`registering ${inputs.tenantId}/${inputs.applianceId}`, answer);
}

async function rotate(inputs: EnrollmentInputs, status: string): Promise<EnrollmentOutputs> {
  const { token, sha256 } = await newToken();
  const answer = await adminCall(inputs, "POST", `${appliancePath(inputs)}/enrollment-token`, {
    enrollment_token_sha256: sha256,
    token_ttl_s: inputs.tokenTtlSeconds,
  });
  if (answer.status !== 200) {
    throw refused(`a new enrollment token for ${inputs.tenantId}/${inputs.applianceId}`, answer);
  }
  return {
    ...inputs,
    enrollmentToken: token,
    tokenExpiresAt: String(answer.body.token_expires_at),
    status,
  };
}

async function remove(props: EnrollmentInputs): Promise<void> {
  const answer = await adminCall(props, "DELETE", appliancePath(props));
  // 404: already gone (deleted out of band), which is what delete wants.
  if (answer.status !== 200 && answer.status !== 404) {
    throw refused(`removing ${props.tenantId}/${props.applianceId}`, answer);
  }
}

// A new URL or tenant CA must never replace the registration: the delete would revoke the
// enrolled appliance and the re-create would then fail with 409.
const REPLACING = ["tenantId", "applianceId"] as const;
const UPDATING = [
  "controlPlaneUrl",
  "tenantCaCertPem",
  "controlPlaneCaPem",
  "tenantCaKeyPem",
  "retentionDays",
  "tokenTtlSeconds",
  "tokenGeneration",
] as const;

export const enrollmentProvider: pulumi.dynamic.ResourceProvider<
  EnrollmentInputs,
  EnrollmentOutputs
> = {
  async check(_olds, news) {
    // The component validated the arguments; the order of MACs carries no meaning.
    return { inputs: { ...news, macAddresses: [...news.macAddresses].sort() } };
  },

  async create(inputs) {
    const outs = await register(inputs);
    return { id: `${inputs.tenantId}/${inputs.applianceId}`, outs };
  },

  async read(id, props) {
    if (props === undefined) throw new Error(`ApplianceEnrollment ${id} cannot be imported`);
    const answer = await adminCall(props, "GET", appliancePath(props));
    if (answer.status === 404) return {}; // removed out of band: drop it from the state
    if (answer.status !== 200) throw refused(`reading ${id}`, answer);
    const macs = Array.isArray(answer.body.mac_addresses)
      ? answer.body.mac_addresses.map(String).sort()
      : props.macAddresses;
    return { id, props: { ...props, macAddresses: macs, status: String(answer.body.status) } };
  },

  async diff(_id, olds, news) {
    const replaces: string[] = REPLACING.filter((k) => olds[k] !== news[k]);
    const changed: string[] = UPDATING.filter((k) => olds[k] !== news[k]);
    if (!sameMacs(olds.macAddresses, news.macAddresses)) changed.push("macAddresses");
    return {
      changes: replaces.length + changed.length > 0,
      replaces,
      // The new registration takes the same id, so the old one must go first.
      deleteBeforeReplace: true,
      stables: ["tenantId", "applianceId"],
    };
  },

  async update(id, olds, news) {
    if (olds.tenantCaCertPem !== news.tenantCaCertPem) {
      throw new Error(
        `${id}: the tenant CA changed, and the control plane keeps the CA a tenant registered with (rotation is not supported yet); nothing was changed: revert the tenant CA (pulumi refresh, then restore the TenantPki resources)`,
      );
    }
    if (olds.controlPlaneUrl !== news.controlPlaneUrl) {
      // The same control plane under a new name: the registration must answer there.
      const current = await adminCall(news, "GET", appliancePath(news));
      if (current.status !== 200) {
        throw refused(
          `finding ${id} at ${news.controlPlaneUrl} (the registration stays where it is)`,
          current,
        );
      }
    }
    if (!sameMacs(olds.macAddresses, news.macAddresses)) {
      // MACs only find a registration before enrollment: re-register it with the new ones.
      const current = await adminCall(news, "GET", appliancePath(news));
      const status = String(current.body.status);
      if (current.status !== 200 || !["registered", "pending", "approved"].includes(status)) {
        throw new Error(
          `${id} is ${current.status === 200 ? status : "missing"}: its MAC addresses cannot change after enrollment; revert msp:applianceMacs, or give the new box another msp:applianceId`,
        );
      }
      await remove(news);
      return { outs: await register(news) };
    }
    if (olds.tokenGeneration !== news.tokenGeneration) {
      return { outs: await rotate(news, olds.status) };
    }
    return {
      outs: {
        ...news,
        enrollmentToken: olds.enrollmentToken,
        tokenExpiresAt: olds.tokenExpiresAt,
        status: olds.status,
      },
    };
  },

  async delete(_id, props) {
    await remove(props);
  },
};
