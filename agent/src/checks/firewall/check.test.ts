import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cleanLabState } from "../../host/lab/clean-state.ts";
import { janssonCompact } from "../../host/lab/commands/nft.ts";
import { fixture, instantClock, labCheckWorld, withOutput } from "../testing.ts";
import { canonicalRuleset, diffRulesets } from "./canonical.ts";
import { opensSsh } from "./check.ts";

const here = import.meta.dirname;
const load = (name: string) =>
  JSON.parse(fixture(here, name)) as { nftables: Record<string, unknown>[] };
const canon = (name: string) => {
  const c = canonicalRuleset(load(name));
  if (!c) throw new Error(`${name} is not nft JSON`);
  return c;
};
const live = (name: string) => withOutput("nft", { stdout: fixture(here, name) });

describe("firewall", () => {
  it("passes on the clean lab appliance, the live hash equal to the baseline's", async () => {
    const result = await (await labCheckWorld({ clock: instantClock })).run("firewall");
    expect(result.status).toBe("pass");
    expect(result.pre_state?.ruleset_sha256).toBe(result.pre_state?.baseline_sha256);
    expect(result.pre_state?.rules).toBe(12);
  });

  it("the lab's nft prints the recorded bytes exactly", () => {
    const { nftables } = cleanLabState(new Date());
    expect(`${janssonCompact(nftables)}\n`).toBe(fixture(here, "baseline.json"));
  });

  it("ignores what changes on every load: handles (recorded reload) and counters", async () => {
    expect(canon("reloaded-handles.json").sha256).toBe(canon("baseline.json").sha256);
    expect(canon("counters-running.json").sha256).toBe(canon("baseline.json").sha256);
    for (const name of ["reloaded-handles.json", "counters-running.json"]) {
      const result = await (await labCheckWorld({ clock: instantClock, host: live(name) })).run(
        "firewall",
      );
      expect(result.status, name).toBe("pass");
    }
  });

  it("names SSH opened to everyone (recorded) and the baseline rule it replaced", async () => {
    const result = await (
      await labCheckWorld({ clock: instantClock, host: live("ssh-exposed.json") })
    ).run("firewall");
    expect(result.status).toBe("drift");
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "ssh_exposed",
        subject: "rule inet filter input #5",
        expected: "absent",
        observed: expect.stringContaining('"right":22'),
      }),
      expect.objectContaining({
        code: "inbound_policy_drift",
        subject: "rule inet filter input #5",
        expected: expect.stringContaining("10.99.0.0"),
        observed: "absent",
      }),
    ]);
    expect(result.pre_state?.ruleset_sha256).not.toBe(result.pre_state?.baseline_sha256);
    expect(result.citations).toEqual(["45 CFR 164.312(a)(1)", "45 CFR 164.312(e)(1)"]);
  });

  it("names an output chain whose policy became accept (recorded), as egress drift", async () => {
    const result = await (
      await labCheckWorld({ clock: instantClock, host: live("egress-open.json") })
    ).run("firewall");
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "egress_policy_drift",
        subject: "chain inet filter output",
        expected: expect.stringContaining('"policy":"drop"'),
        observed: expect.stringContaining('"policy":"accept"'),
      }),
    ]);
  });

  it("treats a rule order change (recorded) as drift: the first matching rule wins", async () => {
    const result = await (
      await labCheckWorld({ clock: instantClock, host: live("reordered.json") })
    ).run("firewall");
    expect(result.status).toBe("drift");
    expect(result.findings.map((f) => [f.code, f.subject, f.message])).toEqual([
      [
        "inbound_policy_drift",
        "rule inet filter input #1",
        "rule in another place than in the baseline",
      ],
      [
        "inbound_policy_drift",
        "rule inet filter input #2",
        "rule in another place than in the baseline",
      ],
    ]);
  });

  it("is an error when nft is not allowed to read the ruleset (recorded message)", async () => {
    const stderr = fixture(here, "nft-unprivileged.stderr.txt");
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("nft", { stdout: "", code: 1, stderr }),
    });
    expect(await world.run("firewall")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/you must be root/),
    });
  });

  it.each([
    ["not JSON", "table inet filter {\n"],
    ["another document", '{"tables": []}'],
    ["an object with two keys", '{"nftables": [{"table": {}, "chain": {}}]}'],
    [
      "a rule without its chain",
      '{"nftables": [{"rule": {"family": "inet", "table": "filter", "expr": []}}]}',
    ],
  ])("is an error for malformed nft output (%s)", async (_, stdout) => {
    const world = await labCheckWorld({ clock: instantClock, host: withOutput("nft", { stdout }) });
    expect((await world.run("firewall")).status).toBe("error");
  });

  it("is an error when the baseline ruleset file is absent or not nft JSON, skipped when not configured", async () => {
    const absent = await (
      await labCheckWorld({
        clock: instantClock,
        expected: { firewall_ruleset_path: "/etc/none.json" },
      })
    ).run("firewall");
    expect(absent).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/does not exist/),
    });
    const garbage = await (
      await labCheckWorld({
        clock: instantClock,
        host: (lab) => ({ ...lab, readFile: async () => "not json" }),
      })
    ).run("firewall");
    expect(garbage.status).toBe("error");
    const unset = await (
      await labCheckWorld({
        clock: instantClock,
        expected: { firewall_ruleset_path: undefined } as never,
      })
    ).run("firewall");
    expect(unset).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/firewall_ruleset_path/),
    });
  });

  it("recognises SSH exposure by the rule's statements", () => {
    const rule = (expr: unknown[]) => JSON.stringify({ expr });
    const dport = (right: unknown) => ({
      match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right },
    });
    const accept = { accept: null };
    expect(opensSsh(rule([dport(22), accept]))).toBe(true);
    expect(opensSsh(rule([dport({ set: [80, 22] }), accept]))).toBe(true);
    expect(opensSsh(rule([dport({ range: [20, 25] }), accept]))).toBe(true);
    expect(opensSsh(rule([dport(22), { drop: null }]))).toBe(false);
    expect(opensSsh(rule([dport(443), accept]))).toBe(false);
    const saddr = {
      match: {
        op: "==",
        left: { payload: { protocol: "ip", field: "saddr" } },
        right: { prefix: { addr: "10.99.0.0", len: 24 } },
      },
    };
    expect(opensSsh(rule([saddr, dport(22), accept]))).toBe(false);
  });
});

describe("the canonical form (properties)", () => {
  const base = load("baseline.json");
  const baseHash = canon("baseline.json").sha256;
  const rulesOf = (list: Record<string, unknown>[]) => list.filter((o) => "rule" in o);
  const others = (list: Record<string, unknown>[]) => list.filter((o) => !("rule" in o));

  it("does not depend on object order, set element order, handles or counters", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
        fc.nat({ max: 1_000_000 }),
        (keys, seed) => {
          const shuffle = <T>(xs: T[]) =>
            xs
              .map((x, i) => [keys[i % keys.length] ?? 0, i, x] as const)
              .sort((a, b) => a[0] - b[0] || a[1] - b[1])
              .map((t) => t[2]);
          const copy = structuredClone(base.nftables);
          let n = seed;
          const touch = (v: unknown): unknown => {
            if (Array.isArray(v)) return v.map(touch);
            if (v === null || typeof v !== "object") return v;
            const o = v as Record<string, unknown>;
            const out: Record<string, unknown> = {};
            for (const [k, x] of Object.entries(o)) {
              if (k === "handle") out[k] = (n++ % 97) + 1;
              else if (k === "counter" && x && typeof x === "object")
                out[k] = { packets: n++, bytes: n++ * 64 };
              else if (k === "elem" && Array.isArray(x)) out[k] = shuffle(x);
              else out[k] = touch(x);
            }
            return out;
          };
          const touched = copy.map(touch) as Record<string, unknown>[];
          // Rules keep their relative order; everything else may move anywhere.
          const list = [...shuffle(others(touched)), ...rulesOf(touched)];
          expect(canonicalRuleset({ nftables: list })?.sha256).toBe(baseHash);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("changes when two different rules of a chain swap places, and names them", () => {
    const rules = rulesOf(base.nftables);
    const input = rules.filter((r) => (r.rule as { chain: string }).chain === "input");
    fc.assert(
      fc.property(fc.nat({ max: input.length - 1 }), fc.nat({ max: input.length - 1 }), (i, j) => {
        fc.pre(i !== j);
        const swapped = [...input];
        [swapped[i], swapped[j]] = [
          swapped[j] as Record<string, unknown>,
          swapped[i] as Record<string, unknown>,
        ];
        const list = [
          ...others(base.nftables),
          ...swapped,
          ...rules.filter((r) => !input.includes(r)),
        ];
        const c = canonicalRuleset({ nftables: list });
        expect(c?.sha256).not.toBe(baseHash);
        const changes = diffRulesets(canon("baseline.json"), c as NonNullable<typeof c>);
        expect(changes.length).toBeGreaterThan(0);
        expect(changes.every((ch) => ch.kind === "rule_moved")).toBe(true);
      }),
      { numRuns: 50 },
    );
  });
});
