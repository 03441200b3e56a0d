import { execFile, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EvidenceBundle, publicKeyToPem, sha256Hex } from "#protocol";
import { awaitPacketJob, makePacket, type PacketJobView } from "../testing/packet-job.ts";
import {
  type PlannerWorld,
  REPO_ROOT,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";
import { type PacketManifest, runMonthlyPackets } from "./index.ts";

const run = promisify(execFile);
const TENANT = "example-dental"; // the catalog ships baseline/exceptions/example-dental.yaml
let world: PlannerWorld;
let site: SimulatedSite;
let dir: string;
const month = new Date().toISOString().slice(0, 7);

/** The figures the packet must state, counted independently from the Store's raw rows. */
async function storeCounts() {
  const rows = await world.h.store.listEvidence(TENANT, "dental-01", 0, 10_000);
  const kinds = rows.map((r) => EvidenceBundle.parse(JSON.parse(r.bundleJson)).event.kind);
  return {
    bundles: rows.length,
    checks: kinds.filter((k) => k === "check_result").length,
    heals: kinds.filter((k) => k === "healing_attempt").length,
    incidents: (await world.h.store.listIncidents(TENANT)).length,
    decisions: (await world.h.store.planner.listDecisions(TENANT, "dental-01", 0, 1000)).length,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-packets-"));
  world = await startPlannerWorld({
    llm: false,
    app: { packets: { dir, catalogDir: REPO_ROOT }, archiveKind: "local-not-worm" },
  });
  site = await world.site(TENANT, "dental-01");
  const check = (check_id: "firewall" | "backups", status: "pass" | "drift") =>
    site.push({
      kind: "check_result",
      check_id,
      status,
      severity: "high",
      findings:
        status === "pass"
          ? []
          : [
              {
                code: check_id === "backups" ? "backup_stale" : "ssh_exposed",
                subject: "x",
                expected: "a",
                observed: "b",
              },
            ],
      duration_ms: 3,
    });
  for (let i = 0; i < 3; i++) await check("firewall", "pass");
  await check("firewall", "drift");
  await site.push({
    kind: "healing_attempt",
    tier: "L1",
    check_id: "firewall",
    runbook_id: "RB-FIREWALL-001-drift",
    runbook_version: 1,
    outcome: "healed",
  });
  await check("backups", "pass");
  await check("backups", "drift");
  // No L2 model: the control plane sends the incident to the L3 queue (a signed decision).
  await site.incident();
}, 60_000);

afterAll(async () => {
  await world?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe("compliance packet", () => {
  let manifest: PacketManifest;
  const v1Dir = () => join(dir, TENANT, month, "v1");
  const packetPath = (f: string) => join(v1Dir(), f);

  it("is generated through the API, audited, and listed", async () => {
    // The request answers at once with a queued job; the packet is made off the request path.
    const res = await world.h.admin(`/tenants/${TENANT}/packets`, { month });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as PacketJobView;
    expect(queued).toMatchObject({ month, status: "queued", progress: 0, version: null });
    const job = await awaitPacketJob(world.h.admin, TENANT, queued.job_id);
    expect(job).toMatchObject({ status: "done", progress: 1, version: 1, error: null });
    const jobs = (await (await world.h.admin(`/tenants/${TENANT}/packet-jobs`)).json()) as {
      jobs: PacketJobView[];
    };
    expect(jobs.jobs.map((j) => j.job_id)).toEqual([queued.job_id]);
    const list = (await (await world.h.admin(`/tenants/${TENANT}/packets`)).json()) as {
      packets: { month: string; version: number; previous_manifest_sha256: string | null }[];
    };
    expect(list.packets).toMatchObject([{ month, version: 1, previous_manifest_sha256: null }]);
    const audit = await world.h.store.listAudit(0, 1000);
    expect(audit.filter((a) => a.action === "packet.generated")).toHaveLength(1);
    manifest = JSON.parse(readFileSync(packetPath("manifest.json"), "utf8")) as PacketManifest;
  });

  it("states in the PDF the counts that are in the store, and renders", async () => {
    const counts = await storeCounts();
    expect(counts).toMatchObject({ bundles: 7, checks: 6, heals: 1, incidents: 1, decisions: 1 });
    const { stdout: text } = await run("pdftotext", ["-layout", packetPath("packet.pdf"), "-"]);
    const figure = (name: string) => text.match(new RegExp(`${name}\\s+(\\S+)`))?.[1];
    expect(figure("Evidence bundles")).toBe(String(counts.bundles));
    expect(figure("Check results")).toBe(String(counts.checks));
    expect(figure("Healing attempts \\(all tiers\\)")).toBe(String(counts.heals));
    expect(figure("Incidents")).toBe(String(counts.incidents));
    expect(figure("Control-plane decisions \\(L1/L2/L3\\)")).toBe(String(counts.decisions));
    expect(manifest.counts).toEqual({
      bundles: counts.bundles,
      check_results: counts.checks,
      healing_attempts: counts.heals,
      incidents: counts.incidents,
      decisions: counts.decisions,
    });
    expect(text).toMatch(/firewall\s+4\s+3\s+1\s+0\s+75%/);
    expect(text).toMatch(/backup_stale\s+1/);
    expect(text).toContain("RB-FIREWALL-001-drift");
    expect(text).toMatch(/L2\s+escalated\s+control-plane:pipeline/);
    expect(text).toMatch(/services\s+not attempted: no local rule\s+escalated/);
    expect(text).toContain("ssh-idle-timeout"); // the client's exception
    expect(text).toContain("45 CFR 164.312(b)"); // the controls matrix
    expect(text).toContain("NOT WORM");
    expect(text).toMatch(/dental-01\s+7\s+1\.\.7\s+verified/);
    const md = readFileSync(packetPath("packet.md"), "utf8");
    expect(md).toContain(`| Evidence bundles | ${counts.bundles} |`);
    expect(md).toContain("| firewall | 75% | 3/4 |");

    const out = join(dir, "page");
    await run("pdftoppm", [
      "-png",
      "-r",
      "50",
      "-f",
      "1",
      "-l",
      "1",
      packetPath("packet.pdf"),
      out,
    ]);
    const png = readFileSync(`${out}-1.png`);
    expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    const { stdout: info } = await run("pdfinfo", [packetPath("packet.pdf")]);
    expect(Number(info.match(/Pages:\s+(\d+)/)?.[1])).toBeGreaterThan(1);
  });

  it("has a manifest that the OpenSSL and coreutils block of docs/auditor.md verifies, and a forgery fails", async () => {
    for (const f of manifest.files) {
      expect(sha256Hex(readFileSync(packetPath(f.name)))).toBe(f.sha256);
    }
    expect(readFileSync(packetPath("control-plane.pub.pem"), "utf8")).toBe(
      publicKeyToPem(world.h.signer.publicKey),
    );
    expect(readFileSync(packetPath("packet.md"), "utf8")).toContain(
      `Control-plane key id ${world.h.signer.keyId}`,
    );
    const doc = readFileSync(join(import.meta.dirname, "../../../docs/auditor.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Verify a compliance packet"));
    const block = section.match(/```sh\n([\s\S]*?)```/)?.[1] as string;
    expect(block).not.toMatch(/\bjq\b|basenc|xxd/);
    const run = (folder: string) =>
      spawnSync("bash", ["-euo", "pipefail", "-c", block], {
        cwd: folder,
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CP_KEY_ID: world.h.signer.keyId },
      });
    const ok = run(v1Dir());
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Signature Verified Successfully/);
    expect(ok.stdout).toMatch(/packet\.md: OK\npacket\.pdf: OK/);
    // A forged manifest (other hashes, same signature) and a changed document both fail.
    const forgedDir = join(dir, "forged");
    cpSync(v1Dir(), forgedDir, { recursive: true });
    const text = readFileSync(join(forgedDir, "manifest.json"), "utf8");
    writeFileSync(
      join(forgedDir, "manifest.json"),
      // The first digest's first digit changed (a fixed replacement would be no change when
      // the digest already starts with it).
      text.replace(/"sha256":"([0-9a-f])/, (_m, d: string) => `"sha256":"${d === "0" ? "1" : "0"}`),
    );
    expect(run(forgedDir).status).not.toBe(0);
    const changedDir = join(dir, "changed");
    cpSync(v1Dir(), changedDir, { recursive: true });
    writeFileSync(
      join(changedDir, "packet.md"),
      `${readFileSync(join(changedDir, "packet.md"), "utf8")}x`,
    );
    expect(run(changedDir).stdout).not.toMatch(/packet\.md: OK/);
  });

  it("serves only the fixed files of a strict month, to an authenticated caller", async () => {
    const pdf = await world.h.admin(`/tenants/${TENANT}/packets/${month}/packet.pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get("content-disposition")).toContain("attachment");
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe("%PDF-");
    for (const path of [
      `/tenants/${TENANT}/packets/${month}/other.txt`,
      `/tenants/${TENANT}/packets/${month}/..%2Fmanifest.json`,
      `/tenants/${TENANT}/packets/..%2F${month}/packet.pdf`,
      `/tenants/${TENANT}/packets/2026-13/packet.pdf`,
      `/tenants/${TENANT}/packets/2026-1/packet.pdf`,
      `/tenants/..%2F${TENANT}/packets/${month}/packet.pdf`,
    ]) {
      expect((await world.h.admin(path)).status, path).toBe(400);
    }
    expect((await world.h.admin(`/tenants/${TENANT}/packets/2001-01/packet.pdf`)).status).toBe(404);
    expect(
      (await world.h.admin(`/tenants/${TENANT}/packets`, { month: "2026-11-01" })).status,
    ).toBe(400);
    expect((await world.h.admin(`/tenants/no-such-clinic/packets`, { month })).status).toBe(404);
    for (const prefix of ["/v1/admin", "/v1/operator"]) {
      const anon = await world.h.app.request(
        `${prefix}/tenants/${TENANT}/packets/${month}/packet.pdf`,
      );
      expect(anon.status, prefix).toBe(401);
    }
  });

  it("keeps version 1 untouched when regenerated: version 2 needs a reason and links v1's hash", async () => {
    const v1Files = Object.fromEntries(
      ["packet.pdf", "packet.md", "manifest.json"].map((f) => [f, readFileSync(packetPath(f))]),
    );
    const missing = await world.h.admin(`/tenants/${TENANT}/packets`, { month });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).toMatch(/reason: required/);
    const blank = await world.h.admin(`/tenants/${TENANT}/packets`, { month, reason: " " });
    expect(blank.status).toBe(400);
    expect(JSON.stringify(await blank.json())).toMatch(/reason/);
    await new Promise((r) => setTimeout(r, 5));
    const made = await makePacket(world.h.admin, TENANT, {
      month,
      reason: "backup finding corrected by the clinic",
    });
    expect(made.version).toBe(2);
    const v1Hash = sha256Hex(v1Files["manifest.json"] as Buffer);
    for (const [f, bytes] of Object.entries(v1Files))
      expect(readFileSync(packetPath(f)).equals(bytes), f).toBe(true);
    const v2Dir = join(dir, TENANT, month, "v2");
    const again = JSON.parse(readFileSync(join(v2Dir, "manifest.json"), "utf8")) as PacketManifest;
    expect(again).toMatchObject({ version: 2, previous_manifest_sha256: v1Hash });
    expect(again.generated_at > manifest.generated_at).toBe(true);
    const { stdout: cover } = await run("pdftotext", ["-l", "1", join(v2Dir, "packet.pdf"), "-"]);
    expect(cover.replace(/\s+/g, " ")).toContain(
      `2, replaces version 1 (manifest SHA-256 ${v1Hash}); reason: backup finding corrected by the clinic`,
    );
    const list = (await (await world.h.admin(`/tenants/${TENANT}/packets`)).json()) as {
      packets: {
        month: string;
        version: number;
        reason: string | null;
        previous_manifest_sha256: string | null;
      }[];
    };
    expect(
      list.packets.map((p) => [p.month, p.version, p.reason, p.previous_manifest_sha256]),
    ).toEqual([
      [month, 2, "backup finding corrected by the clinic", v1Hash],
      [month, 1, null, null],
    ]);
    // The plain file route serves the latest version; the versioned one any version.
    const latest = await world.h.admin(`/tenants/${TENANT}/packets/${month}/manifest.json`);
    expect(
      Buffer.from(await latest.arrayBuffer()).equals(readFileSync(join(v2Dir, "manifest.json"))),
    ).toBe(true);
    const first = await world.h.admin(`/tenants/${TENANT}/packets/${month}/versions/1/packet.pdf`);
    expect(Buffer.from(await first.arrayBuffer()).equals(v1Files["packet.pdf"] as Buffer)).toBe(
      true,
    );
    for (const v of ["0", "01", "x", "1.5"])
      expect(
        (await world.h.admin(`/tenants/${TENANT}/packets/${month}/versions/${v}/packet.pdf`))
          .status,
        v,
      ).toBe(400);
    expect(
      (await world.h.admin(`/tenants/${TENANT}/packets/${month}/versions/3/packet.pdf`)).status,
    ).toBe(404);
    const audit = await world.h.store.listAudit(0, 1000);
    expect(audit.filter((a) => a.action === "packet.generated")).toHaveLength(2);
  });

  it("keeps a failed job visible with its error, and runs it again on request", async () => {
    // A file where the month's folder must go: the job fails when it writes.
    const blocked = join(dir, TENANT, "2026-02");
    writeFileSync(blocked, "not a folder");
    const res = await world.h.admin(`/tenants/${TENANT}/packets`, { month: "2026-02" });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as PacketJobView;
    const failed = await awaitPacketJob(world.h.admin, TENANT, queued.job_id);
    expect(failed).toMatchObject({ status: "failed", version: null });
    expect(failed.error).toMatch(/internal error/);
    expect(await world.h.store.getPacket(TENANT, "2026-02")).toBeUndefined();
    // Only a failed job runs again.
    const done = (await (await world.h.admin(`/tenants/${TENANT}/packet-jobs`)).json()) as {
      jobs: PacketJobView[];
    };
    const finished = done.jobs.find((j) => j.status === "done");
    expect(
      (await world.h.admin(`/tenants/${TENANT}/packet-jobs/${finished?.job_id}/rerun`, {})).status,
    ).toBe(409);
    rmSync(blocked);
    const again = await world.h.admin(`/tenants/${TENANT}/packet-jobs/${queued.job_id}/rerun`, {});
    expect(again.status).toBe(202);
    const rerun = (await again.json()) as PacketJobView;
    expect(rerun.rerun_of).toBe(queued.job_id);
    expect(await awaitPacketJob(world.h.admin, TENANT, rerun.job_id)).toMatchObject({
      status: "done",
      version: 1,
    });
    expect(await awaitPacketJob(world.h.admin, TENANT, queued.job_id)).toMatchObject({
      status: "failed",
      error: failed.error,
    });
  });

  it("runs the monthly job once per month, never as a second version", async () => {
    const deps = {
      store: world.h.store,
      signer: world.h.signer,
      catalogDir: REPO_ROOT,
      packetsDir: dir,
      archiveKind: "local-not-worm",
      now: () => new Date(),
      tenants: async () => [TENANT],
    };
    expect(await runMonthlyPackets(deps, month)).toEqual([]);
    expect(await runMonthlyPackets(deps, "2026-01")).toEqual([TENANT]);
    expect(await runMonthlyPackets(deps, "2026-01")).toEqual([]);
    const jan = (await world.h.store.getPacket(TENANT, "2026-01"))?.counts;
    expect(jan).toMatchObject({ bundles: 0, check_results: 0 });
  });
});
