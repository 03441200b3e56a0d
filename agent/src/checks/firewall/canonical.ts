import { createHash } from "node:crypto";
import { canonicalize } from "#protocol";

/**
 * Canonical form of `nft -j list ruleset` (libnftables JSON schema, nftables(8) "JSON"):
 *
 * - dropped: the metainfo object (nft's version), every `handle` (kernel-assigned, changes on
 *   every reload), and the running state of stateful objects: `packets`/`bytes` of counters,
 *   `used` of quotas. They differ between two loads of the same ruleset.
 * - sorted (order is noise): the list of tables, chains, sets, maps and other objects, which nft
 *   prints in kernel order; the elements of sets and maps, which are unordered by definition.
 * - kept in order (order is meaning): the rules of each chain. nftables evaluates a chain's rules
 *   top to bottom and the first verdict wins, so `drop` before `accept` is a different firewall
 *   than `accept` before `drop`. A moved rule is therefore drift, even where a particular move
 *   happens to be harmless; telling harmless moves apart would need a rule-set prover.
 *
 * The hash is SHA-256 over the RFC 8785 canonical JSON of that form.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface RuleRef {
  readonly chain: string; // "inet filter input"
  readonly index: number; // 0-based position in its chain
  readonly text: string; // canonical JSON of the rule's expressions (and comment)
}

export interface CanonicalRuleset {
  /** Non-rule objects as canonical JSON strings, sorted. */
  readonly objects: readonly string[];
  /** Rule texts per chain, in chain order; chains sorted by name. */
  readonly rules: Readonly<Record<string, readonly string[]>>;
  /** Hooks of base chains: "inet filter input" -> "input". */
  readonly hooks: Readonly<Record<string, string>>;
  readonly sha256: string;
}

const STATE_KEYS: Readonly<Record<string, readonly string[]>> = {
  counter: ["packets", "bytes"],
  quota: ["used", "used_unit"],
};

function strip(value: Json, parentKey?: string): Json {
  if (Array.isArray(value)) return value.map((v) => strip(v));
  if (value === null || typeof value !== "object") return value;
  const drop = new Set(["handle", ...(parentKey ? (STATE_KEYS[parentKey] ?? []) : [])]);
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    if (drop.has(k)) continue;
    out[k] =
      k === "elem" && Array.isArray(v) ? sortByCanonical(v.map((e) => strip(e))) : strip(v, k);
  }
  return out;
}

const sortByCanonical = (values: Json[]) =>
  values
    .map((v) => [canonicalize(v), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, v]) => v);

/** Undefined when `input` is not an nft JSON document ({"nftables": [ {kind: {...}}, ... ]}). */
export function canonicalRuleset(input: unknown): CanonicalRuleset | undefined {
  if (typeof input !== "object" || input === null || !("nftables" in input)) return undefined;
  const list = (input as { nftables: unknown }).nftables;
  if (!Array.isArray(list)) return undefined;
  const objects: string[] = [];
  const rules: Record<string, string[]> = {};
  const hooks: Record<string, string> = {};
  for (const item of list as unknown[]) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) return undefined;
    const entries = Object.entries(item as Record<string, Json>);
    if (entries.length !== 1) return undefined;
    const [kind, body] = entries[0] as [string, Json];
    if (kind === "metainfo") continue;
    if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
    const clean = strip(body, kind) as Record<string, Json>;
    if (kind === "rule") {
      const { family, table, chain, ...rest } = clean;
      if (typeof family !== "string" || typeof table !== "string" || typeof chain !== "string") {
        return undefined;
      }
      const key = `${family} ${table} ${chain}`;
      const chainRules = rules[key] ?? [];
      chainRules.push(canonicalize(rest));
      rules[key] = chainRules;
      continue;
    }
    if (kind === "chain" && typeof clean.hook === "string") {
      hooks[`${clean.family} ${clean.table} ${clean.name}`] = clean.hook;
    }
    objects.push(canonicalize({ [kind]: clean }));
  }
  objects.sort();
  const sortedRules = Object.fromEntries(
    Object.entries(rules).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const sha256 = createHash("sha256")
    .update(canonicalize({ objects, rules: sortedRules }))
    .digest("hex");
  return { objects, rules: sortedRules, hooks, sha256 };
}

/** "chain inet filter input": what names an object, whatever its other attributes. */
export function objectIdentity(object: string): string {
  const [kind, body] = Object.entries(
    JSON.parse(object) as Record<string, Record<string, unknown>>,
  )[0] as [string, Record<string, unknown>];
  return [kind, body.family, body.table, body.name].filter((x) => x !== undefined).join(" ");
}

export type RulesetChange =
  /** `before` is the baseline's object, `after` the live one; absent on that side: undefined. */
  | { readonly kind: "object"; readonly before?: string; readonly after?: string }
  | { readonly kind: "rule_added" | "rule_removed" | "rule_moved"; readonly rule: RuleRef };

/**
 * What differs between the baseline and the live ruleset: objects (tables, chains with their
 * policy, sets) added or removed, and per chain the rules added, removed, or in another place.
 */
export function diffRulesets(baseline: CanonicalRuleset, live: CanonicalRuleset): RulesetChange[] {
  const changes: RulesetChange[] = [];
  // Objects are paired by identity (kind, family, table, name), so a chain whose policy changed
  // is one change with its before and after, not an addition and a removal.
  const byIdentity = (list: readonly string[], other: ReadonlySet<string>) =>
    new Map(list.filter((o) => !other.has(o)).map((o) => [objectIdentity(o), o]));
  const removed = byIdentity(baseline.objects, new Set(live.objects));
  const added = byIdentity(live.objects, new Set(baseline.objects));
  for (const id of [...new Set([...removed.keys(), ...added.keys()])].sort()) {
    const before = removed.get(id);
    const after = added.get(id);
    changes.push({ kind: "object", ...(before ? { before } : {}), ...(after ? { after } : {}) });
  }
  const chains = [...new Set([...Object.keys(baseline.rules), ...Object.keys(live.rules)])].sort();
  for (const chain of chains) {
    const want = baseline.rules[chain] ?? [];
    const have = live.rules[chain] ?? [];
    if (want.length === have.length && want.every((r, i) => r === have[i])) continue;
    const remaining = [...want];
    const added: RuleRef[] = [];
    have.forEach((text, index) => {
      const at = remaining.indexOf(text);
      if (at >= 0) remaining.splice(at, 1);
      else added.push({ chain, index, text });
    });
    const unmatched = [...have];
    const removed: RuleRef[] = [];
    want.forEach((text, index) => {
      const at = unmatched.indexOf(text);
      if (at >= 0) unmatched.splice(at, 1);
      else removed.push({ chain, index, text });
    });
    for (const rule of added) changes.push({ kind: "rule_added", rule });
    for (const rule of removed) changes.push({ kind: "rule_removed", rule });
    // Same rules, another order: name each rule whose place in the common order changed.
    const common = have.filter((t) => want.includes(t));
    const commonWant = want.filter((t) => have.includes(t));
    common.forEach((text, i) => {
      if (commonWant[i] !== text) {
        changes.push({ kind: "rule_moved", rule: { chain, index: have.indexOf(text), text } });
      }
    });
  }
  return changes;
}
