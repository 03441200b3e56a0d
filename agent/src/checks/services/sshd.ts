import type { Baseline } from "#catalog";
import type { CheckFinding, PreState } from "../contract.ts";
import { toggleValue } from "../support.ts";

type Finding = CheckFinding<"services">;

/**
 * `sshd -T`: the effective configuration, one "key value" per line, keys in lower case (some
 * repeat, such as hostkey). Undefined when a line is not printable "key value" text.
 */
export function parseSshdT(text: string): Map<string, string> | undefined {
  const settings = new Map<string, string>();
  const lines = text.split("\n").filter((l) => l !== "");
  if (lines.length === 0) return undefined;
  for (const line of lines) {
    const m = /^([a-z0-9]+) ([\x20-\x7e]*)$/.exec(line);
    if (!m) return undefined;
    if (!settings.has(m[1] as string)) settings.set(m[1] as string, m[2] as string);
  }
  return settings;
}

/** "15m", "900", "900s", "1h30m" (sshd's time format) in seconds; undefined if malformed. */
export function sshdSeconds(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+)([smhdw])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}

/** Key exchange with curve25519 or a post-quantum hybrid; MACs encrypt-then-MAC. */
const MODERN_KEX = /^(?:sntrup761x25519|mlkem768x25519|curve25519)/;
const ETM_MAC = /-etm@openssh\.com$/;

/** The keys this evaluation reads; sshd -T always prints them. */
export const SSHD_KEYS = [
  "passwordauthentication",
  "kbdinteractiveauthentication",
  "permitrootlogin",
  "loglevel",
  "clientaliveinterval",
  "clientalivecountmax",
  "ciphers",
  "kexalgorithms",
  "macs",
] as const;

/**
 * Compares sshd's effective settings with the baseline's ssh toggles. `missing`: a key sshd -T
 * always prints was absent (the output is not what it seems).
 */
export function evaluateSshd(
  baseline: Baseline,
  settings: ReadonlyMap<string, string>,
): { findings: Finding[]; state: PreState } | { missing: string } {
  const missing = SSHD_KEYS.find((k) => !settings.has(k));
  if (missing) return { missing };
  const get = (key: string) => settings.get(key) ?? "";
  const findings: Finding[] = [];
  const push = (code: Finding["code"], subject: string, expected: string, observed: string) =>
    findings.push({ code, subject, expected, observed });

  for (const key of ["passwordauthentication", "kbdinteractiveauthentication"]) {
    if (get(key) !== "no") push("sshd_password_auth_enabled", key, "no", get(key));
  }
  const root = String(toggleValue(baseline, "ssh-root-login-disabled") ?? "no");
  if (get("permitrootlogin") !== root) {
    push("sshd_root_login_permitted", "permitrootlogin", root, get("permitrootlogin"));
  }
  const level = String(toggleValue(baseline, "ssh-verbose-logging") ?? "VERBOSE");
  if (get("loglevel") !== level) push("sshd_log_level_drift", "loglevel", level, get("loglevel"));

  // Idle sessions close (ChannelTimeout session=...) and dead clients are dropped
  // (ClientAliveInterval x ClientAliveCountMax), each within the baseline's seconds.
  const idle = Number(toggleValue(baseline, "ssh-idle-timeout") ?? 900);
  const session = /(?:^|\s)session(?::\S+)?=(\S+)/.exec(get("channeltimeout"))?.[1];
  const sessionS = session === undefined ? undefined : sshdSeconds(session);
  if (sessionS === undefined || sessionS === 0 || sessionS > idle) {
    push(
      "sshd_idle_timeout_drift",
      "channeltimeout",
      `session=${idle}s or less`,
      get("channeltimeout") || "none",
    );
  }
  const alive = Number(get("clientaliveinterval")) * Number(get("clientalivecountmax"));
  if (!(alive > 0 && alive <= idle)) {
    const observed = `${get("clientaliveinterval")} x ${get("clientalivecountmax")}`;
    push("sshd_idle_timeout_drift", "clientaliveinterval", `at most ${idle}s in all`, observed);
  }

  const ciphers = toggleValue(baseline, "ssh-modern-crypto");
  const allowed = Array.isArray(ciphers) ? ciphers.map(String) : [];
  const weakCiphers = get("ciphers")
    .split(",")
    .filter((c) => !allowed.includes(c));
  if (allowed.length === 0 || weakCiphers.length > 0) {
    push(
      "sshd_crypto_drift",
      "ciphers",
      allowed.join(","),
      weakCiphers.join(",") || get("ciphers"),
    );
  }
  const weakKex = get("kexalgorithms")
    .split(",")
    .filter((k) => !MODERN_KEX.test(k));
  if (weakKex.length > 0)
    push("sshd_crypto_drift", "kexalgorithms", "curve25519 or PQ hybrids", weakKex.join(","));
  const weakMacs = get("macs")
    .split(",")
    .filter((m) => !ETM_MAC.test(m));
  if (weakMacs.length > 0)
    push("sshd_crypto_drift", "macs", "*-etm@openssh.com", weakMacs.join(","));

  const state: PreState = Object.fromEntries(
    [...SSHD_KEYS, "channeltimeout"].map((k) => [`sshd.${k}`, settings.get(k) ?? null]),
  );
  return { findings, state };
}
