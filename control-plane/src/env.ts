import type { Signer } from "#protocol";
import type { Principal } from "./access/roles.ts";
import type { AuditLog } from "./audit.ts";
import type { TwoPersonSettings } from "./changes/settings.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";
import type { SignInSettings } from "./operator/settings.ts";
import type { SecretBox } from "./pki/index.ts";
import type { Planner, PlannerDeps } from "./planner/index.ts";
import type { Queue } from "./queue/port.ts";
import type { ApplianceRecord, Store } from "./store/index.ts";
import type { Vault } from "./vault/vault.ts";

/** Everything the app needs from outside, built only in main.ts (or a test). */
export interface AppDeps {
  readonly store: Store;
  /** The control plane's Ed25519 order-signing key (orders, polls, receipts, enrollment). */
  readonly signer: Signer;
  readonly secretBox: SecretBox;
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** Validity of issued appliance client certificates, in days. */
  readonly clientCertDays?: number;
  /** Per-appliance request budget: `perMinute` sustained, `burst` at once. */
  readonly applianceRateLimit?: { readonly perMinute: number; readonly burst: number };
  /** Enrollment attempts per client address (unauthenticated; each may cost a CSR signature). */
  readonly enrollmentRateLimit?: { readonly perMinute: number; readonly burst: number };
  /** Sign-in attempts per client address, whatever the name (stops spraying many accounts). */
  readonly signInRateLimit?: { readonly perMinute: number; readonly burst: number };
  /** Reads the DER client certificate of the TLS peer; the default reads the Node TLS socket. */
  readonly peerCertificate?: (env: unknown) => Uint8Array | undefined;
  /** The incident pipeline: catalog, L2 model, webhook, settings (all optional: L3 only). */
  readonly planner?: PlannerDeps;
  /** The evidence vault (checkpoints, WORM outbox); without it polls carry no checkpoint. */
  readonly vault?: Vault;
  /** The work queue between roles; its stats and dead letters are on /v1/admin/queue. */
  readonly queue?: Queue;
  /** Where operator-requested evidence exports are written (server-chosen names only). */
  readonly exportsDir?: string;
  /** The vault's archive kind, stated in each export manifest. */
  readonly archiveKind?: string;
  /** Compliance packets: where they are written and the catalog they cite. */
  readonly packets?: { readonly dir: string; readonly catalogDir: string };
  /** Check each JSON answer against its route's declared schema (tests); a mismatch is a 500. */
  readonly checkResponses?: boolean;
  /** SHA-256 (hex) of the bearer token Prometheus scrapes /metrics with (else: admin tokens). */
  readonly metricsScrapeTokenSha256?: string;
  /** Second factor and session lifetimes (defaults: TOTP for admins, 30 min idle, 8 h). */
  readonly signIn?: SignInSettings;
  /** Which changes need a second operator, and how long a request waits (default: all, 24 h). */
  readonly twoPersonRule?: TwoPersonSettings;
}

/** Resolved dependencies shared by routes (defaults filled in by createApp). */
export interface Services {
  readonly store: Store;
  readonly signer: Signer;
  readonly secretBox: SecretBox;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly clientCertDays: number;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly signIn: SignInSettings;
  readonly twoPersonRule: TwoPersonSettings;
  readonly planner: Planner;
  readonly vault?: Vault;
  readonly queue?: Queue;
  readonly exportsDir?: string;
  readonly archiveKind?: string;
  readonly packets?: { readonly dir: string; readonly catalogDir: string };
  /** Check each JSON answer against its route's declared schema (tests); a mismatch is a 500. */
  readonly checkResponses?: boolean;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    appliance: ApplianceRecord;
    adminActor: string;
    /** Who is asking, with role and scope (set by the operator API's and dashboard's guards). */
    principal: Principal;
  };
}
