import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleHash,
  createSigner,
  EvidenceBundle,
  generateEd25519KeyPair,
  keyId,
  publicKeyToBase64,
} from "#protocol";
import { makePacket } from "../testing/packet-job.ts";
import {
  type PlannerWorld,
  REPO_ROOT,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";
import { attributeDecision } from "./orders.ts";

/**
 * What the packet states must be true: who decided each remediation, every order (refused and
 * expired included), the archive's pending bundles at generation time, the period's bounds, and
 * appliance-provided text kept as text.
 */
const run = promisify(execFile);
const TENANT = "example-dental";
const APPLIANCE = "dental-01";
const HOSTILE_HOST = `<iframe src="javascript:alert(1)"></iframe>[x](javascript:alert(2))`;
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)> ![t](http://e.test/p.png) | cell`;
let world: PlannerWorld;
let site: SimulatedSite;
let dir: string;
const month = new Date().toISOString().slice(0, 7);
let md: string;
let pdfText: string;
let driftSeq: number;

async function registerHostile() {
  const store = world.h.store;
  const key = createSigner(generateEd25519KeyPair().privateKey);
  const at = new Date().toISOString();
  await store.registerAppliance({
    tenantId: TENANT,
    applianceId: "dental-02",
    macs: ["02:00:00:00:00:42"],
    settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
    tokenHash: null,
    tokenExpiresAt: null,
    createdAt: at,
  });
  const claim = {
    evidencePublicKey: publicKeyToBase64(key.publicKey),
    evidenceKeyFingerprint: keyId(key.publicKey),
    csrPem: "csr",
    hostname: HOSTILE_HOST,
    agentVersion: "0.1.0",
  };
  await store.setPending(TENANT, "dental-02", claim);
  await store.approve(TENANT, "dental-02", claim.evidenceKeyFingerprint);
  await store.activate(
    TENANT,
    "dental-02",
    { ...claim, certPem: "c", certFingerprint: "e".repeat(64), at },
    false,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-packet-truth-"));
  world = await startPlannerWorld({
    llm: false,
    app: { packets: { dir, catalogDir: REPO_ROOT }, archiveKind: "local-not-worm" },
  });
  site = await world.site(TENANT, APPLIANCE);
  // A drift the appliance sees, then no longer sees (resolved), and one still open at the end.
  const check = (check_id: "firewall" | "backups", drift: boolean) =>
    site.push({
      kind: "check_result",
      check_id,
      status: drift ? "drift" : "pass",
      severity: "high",
      findings: drift
        ? [{ code: `${check_id}_drift`, subject: "nftables", expected: "a", observed: "b" }]
        : [],
      duration_ms: 3,
    });
  driftSeq = await check("firewall", true);
  await check("firewall", false);
  await check("backups", true);
  // A second appliance whose self-reported hostname is hostile text.
  await registerHostile();
  // The appliance heals one drift with its own L1 rule (no order).
  await site.push({
    kind: "healing_attempt",
    tier: "L1",
    check_id: "firewall",
    runbook_id: "RB-FIREWALL-001-drift",
    runbook_version: 1,
    outcome: "healed",
    detail: HOSTILE,
  });
  // An incident without a local rule goes to the operator (no L2 model); the operator approves a
  // runbook outside the candidates, so the reason is kept as the decision's note.
  const incident = await site.incident();
  const order = await world.h.app.planner.approve(
    "operator:alice",
    { tenantId: TENANT, applianceId: APPLIANCE, incidentId: incident.incident_id },
    "RB-CPU-001-high",
    { unit: "chronyd.service" },
    "chronyd keeps failing after the update",
  );
  await site.push({
    kind: "healing_attempt",
    tier: "L3",
    check_id: "services",
    runbook_id: "RB-CPU-001-high",
    runbook_version: 1,
    order_id: order.orderId,
    outcome: "healed",
  });
  // An operator's order through the admin API that the appliance refuses.
  const res = await world.h.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/orders`, {
    runbook_id: "RB-BACKUP-001-failure",
    tier: "L3",
    ttl_s: 600,
  });
  expect(res.status).toBe(201);
  const refused = (await res.json()) as { order_id: string; seq: number };
  await site.push({
    kind: "order_rejected",
    outcome: "rejected",
    reason: "unknown_runbook",
    detail: "RB-BACKUP-001-failure is not in this appliance's allowlist",
    order_id: refused.order_id,
    order_seq: refused.seq,
    runbook_id: "RB-BACKUP-001-failure",
  });
  // And one that is never delivered and expires.
  expect(
    (
      await world.h.admin(`/tenants/${TENANT}/appliances/${APPLIANCE}/orders`, {
        runbook_id: "RB-DISK-001-full",
        tier: "L3",
        ttl_s: 60,
      })
    ).status,
  ).toBe(201);
  await world.h.store.expireOrders(new Date(Date.now() + 120_000).toISOString());

  await makePacket(world.h.admin, TENANT, { month });
  md = readFileSync(join(dir, TENANT, month, "v1", "packet.md"), "utf8");
  pdfText = (await run("pdftotext", [join(dir, TENANT, month, "v1", "packet.pdf"), "-"])).stdout;
}, 120_000);

afterAll(async () => {
  await world?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The Markdown table row whose first cells match, split into cells. */
const rowsOf = (text: string, needle: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("|") && l.includes(needle))
    .map((l) => l.split(" | ").map((c) => c.replace(/^\| |\|$/g, "").trim()));

describe("remediations and orders", () => {
  it("attributes an L3 order to the operator with the note, and counts only local heals as the appliance's own", () => {
    const [l3] = rowsOf(md, "RB-CPU-001-high").filter((r) => r[0]?.match(/^\d{4}-/));
    expect(l3?.join(" ")).toContain(
      "L3 operator:alice, note: chronyd keeps failing after the update",
    );
    expect(l3?.join(" ")).not.toContain("appliance L1");
    const [local] = rowsOf(md, "RB-FIREWALL-001-drift");
    expect(local?.join(" ")).toContain("appliance L1 rule (local, no order)");
    expect(md).toMatch(/\| Healed by the appliance's own L1 rules \| 1 \|/);
    expect(md).toMatch(/\| Healed by orders \(control-plane L1, L2, L3, admin API\) \| 1 \|/);
  });

  it("lists the admin API's orders, the refused one and the expired one", async () => {
    const all = await world.h.store.ordersAfter(TENANT, APPLIANCE, 0, 100);
    expect(all).toHaveLength(3);
    const backup = rowsOf(md, "RB-BACKUP-001-failure")[0]?.join(" ") ?? "";
    expect(backup).toContain("admin API order by");
    expect(backup).toContain("refused by the appliance (rejected: unknown_runbook)");
    const disk = rowsOf(md, "RB-DISK-001-full")[0]?.join(" ") ?? "";
    expect(disk).toContain("expired");
    expect(disk).toContain("admin API order by");
    expect(md).toMatch(/\| Orders issued \(refused by an appliance\) \| 3 \(1\) \|/);
  });

  it("names the model of an L2 decision and the rule of a control-plane L1 decision", () => {
    expect(
      attributeDecision({ tier: "L2", decided_by: "l2:qwen3-8b", llm: { model: "qwen3-8b" } }).who,
    ).toBe("L2 planner, model qwen3-8b");
    expect(attributeDecision({ tier: "L1", decided_by: "control-plane:l1:L1-FW-7" })).toEqual({
      by: "control-plane L1",
      who: "control-plane L1 rule L1-FW-7",
    });
  });
});

describe("period and archive", () => {
  it("counts at generation time the bundles with no archived copy", async () => {
    const rows = await world.h.store.listEvidence(TENANT, APPLIANCE, 0, 10_000);
    const objects = await world.h.store.listVaultObjects(TENANT, APPLIANCE);
    const archived = objects
      .filter((o) => o.kind === "segment" && o.status === "archived")
      .reduce((n, o) => n + o.lastSeq - o.firstSeq + 1, 0);
    const pending = rows.length - archived;
    expect(pending).toBeGreaterThan(0);
    expect(md).toContain(
      `| Bundles without an archived copy at generation | ${pending} of ${rows.length} |`,
    );
    expect(md).toContain(`${pending} pending (not yet archived)`);
  });

  it("marks the month in progress partial", () => {
    expect(md).toMatch(new RegExp(`${month} \\(PARTIAL: the month in progress, up to `));
    expect(pdfText).toContain("PARTIAL");
  });

  it("refuses a month that has not started", async () => {
    const next = new Date();
    next.setUTCMonth(next.getUTCMonth() + 1, 1);
    const res = await world.h.admin(`/tenants/${TENANT}/packets`, {
      month: next.toISOString().slice(0, 7),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/has not started/);
    expect((await world.h.admin(`/tenants/${TENANT}/packets`, { month: "2027-06" })).status).toBe(
      400,
    );
  });

  it("says no data, not 0 %, for a month without runs", async () => {
    await makePacket(world.h.admin, TENANT, { month: "2026-01" });
    const jan = readFileSync(join(dir, TENANT, "2026-01", "v1", "packet.md"), "utf8");
    expect(jan).toContain("| Check pass rate | no data |");
    expect(jan).toContain("(complete month)");
    expect(jan).not.toMatch(/\b0%/);
  });
});

describe("text", () => {
  it("keeps toggle titles beside their settings", () => {
    const [row] = rowsOf(md, "ssh-password-auth-disabled");
    expect(row?.slice(0, 2)).toEqual(["ssh-password-auth-disabled", "SSH accepts keys only"]);
    // The title's cell may wrap (the column is as wide as the embedded font measures it).
    expect(pdfText.replace(/\s+/g, " ")).toContain("SSH accepts keys only");
  });

  it("never carries raw HTML or live Markdown from appliance-provided text", async () => {
    const rows = await world.h.store.listEvidence(TENANT, APPLIANCE, 0, 10_000);
    const stored = rows.map((r) => EvidenceBundle.parse(JSON.parse(r.bundleJson)));
    expect(stored.some((b) => JSON.stringify(b.event).includes("<script>"))).toBe(true);
    expect(md).not.toMatch(/<script|<img|onerror=alert\(1\)>/);
    expect(md).not.toContain("![t](");
    expect(md).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    // The row stays one row: the pipe is escaped, not a cell boundary.
    const [local] = rowsOf(md, "RB-FIREWALL-001-drift");
    expect(local).toHaveLength(7);
    expect(md).not.toMatch(/<iframe|(?<!\\)\]\(javascript:/);
    expect(md).toContain(
      "&lt;iframe src=&quot;javascript:alert(1)&quot;&gt;&lt;/iframe&gt;\\[x\\]",
    );
  });
});

describe("structure", () => {
  it("carries the running header, the mark and the page number on every page", () => {
    const pages = pdfText.split("\f").filter((p) => p.trim());
    expect(pages.length).toBeGreaterThan(4);
    pages.forEach((p, i) => {
      expect(p, `page ${i + 1}`).toContain(
        `HIPAA compliance packet | ${TENANT} | ${month} (partial)`,
      );
      expect(p).toContain("LAB / NOT WORM");
      expect(p).toContain(`page ${i + 1} of ${pages.length}`);
    });
  });

  it("has a cover with sign-off, contents, the practice's summary and the scope first", () => {
    const first = pdfText.split("\f")[0] ?? "";
    expect(first).toContain("Client (site)");
    expect(first).toContain("Prepared by (MSP)");
    expect(first).toContain("Contents");
    const sections = [
      "Summary for the practice",
      "Scope",
      "Figures at a glance",
      "Appliances",
      "State of every check at the end of the period",
      "Monitoring coverage and gaps",
      "Findings",
      "Remediations",
      "Orders",
      "Exceptions",
      "Backups and test restores",
      "Controls matrix",
      "Evidence integrity",
      "How to verify",
    ];
    const contents = first.slice(first.indexOf("Contents"));
    for (const s of sections) expect(contents, s).toContain(s);
    // Each entry has its page number (pdftotext puts the right-aligned column after the names).
    const numbers = contents.match(/^\d+$/gm) ?? [];
    expect(numbers.length).toBeGreaterThanOrEqual(sections.length);
    const summaryPage = pdfText.split("\f")[1] ?? "";
    expect(summaryPage).toContain("Summary for the practice");
    expect(summaryPage).toMatch(/Open: \d+ check\(s\) not passing/);
    expect(summaryPage).toContain("Exceptions in force");
    expect(pdfText).toContain("not a HIPAA attestation");
  });

  it("states each finding with first seen, resolved, age and the bundle behind it", async () => {
    const rows = await world.h.store.listEvidence(TENANT, APPLIANCE, 0, 10_000);
    const drift = rows.find((r) => r.seq === driftSeq);
    const hash = bundleHash(EvidenceBundle.parse(JSON.parse(drift?.bundleJson ?? "")));
    const [resolved] = rowsOf(md, "firewall\\_drift").concat(rowsOf(md, "firewall_drift"));
    expect(resolved?.[7]).toContain(`${APPLIANCE} #${driftSeq} ${hash.slice(0, 12)}`);
    expect(resolved?.[5]).toMatch(/^\d{4}-/);
    const [open] = rowsOf(md, "backups_drift");
    expect(open?.[5]).toBe("OPEN");
    expect(md).toMatch(/\| dental-01 \| firewall \| \d+ \| 2 \| /);
  });
});
