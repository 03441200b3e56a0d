import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Order } from "#protocol";
import type { RunningServer } from "../server.ts";
import { type BrowserSession, browserSuite, openBrowser } from "../testing/browser.ts";
import { addOperator } from "../testing/harness.ts";
import {
  type PlannerWorld,
  REPO_ROOT,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";

/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core against the
 * control plane behind real TLS on loopback (testing/browser.ts; the planner world: SQLite, the
 * real catalog, no LLM, so incidents go to L3). With DASHBOARD_SCREENSHOTS=1 it writes the
 * tour's screenshots to docs/images/.
 */
const SCREENSHOTS = process.env.DASHBOARD_SCREENSHOTS === "1";
const IMAGES = join(REPO_ROOT, "docs", "images");
const password = "lab operator password 1";

let world: PlannerWorld;
let site: SimulatedSite;
let browser: BrowserSession;
let server: RunningServer;
let context: BrowserContext;
let page: Page;
const packets = mkdtempSync(join(tmpdir(), "cp-browser-packets-"));
const suite = browserSuite("the dashboard browser test");

suite("the dashboard in headless Chromium", () => {
  beforeAll(async () => {
    world = await startPlannerWorld({
      llm: false,
      app: {
        packets: { dir: join(packets, "packets"), catalogDir: REPO_ROOT },
        archiveKind: "local-not-worm",
      },
    });
    site = await world.site("clinic-a", "clinic-a-01");
    await world.site("clinic-a", "clinic-a-02");
    await addOperator(world.h.store, "olivia", password);
    browser = await openBrowser(world.h.app);
    ({ server, context, page } = browser);
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await world?.cleanup();
    rmSync(packets, { recursive: true, force: true });
  });

  async function shot(name: string) {
    if (!SCREENSHOTS) return;
    mkdirSync(IMAGES, { recursive: true });
    await page.screenshot({ path: join(IMAGES, `dashboard-${name}.png`) });
  }

  const issued: Order[] = [];

  it("signs in over TLS with Secure, HttpOnly, SameSite=Strict cookies", async () => {
    await page.goto(`${server.url}/dashboard`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    await page.fill("#username", "olivia");
    await page.fill("#password", "wrong password");
    await page.click("button.primary");
    await expectText("Wrong operator name or password");
    await page.fill("#username", "olivia");
    await page.fill("#password", password);
    await shot("sign-in");
    await page.click("button.primary");
    await page.waitForURL(`${server.url}/dashboard`);
    const cookies = await context.cookies(server.url);
    expect(cookies.map((c) => c.name).sort()).toEqual([
      "__Host-cp_dashboard_csrf",
      "__Host-cp_session",
    ]);
    for (const c of cookies) {
      expect(c).toMatchObject({ secure: true, httpOnly: true, sameSite: "Strict", path: "/" });
    }
    await expectText("clinic-a-01");
    await expectText("clinic-a-02");
    await shot("sites");
  });

  it("approves one escalation (an order appears) and rejects another", async () => {
    const first = await site.incident();
    const second = await site.incident({
      check_id: "services",
      findings: [
        { code: "unit_failed", subject: "sshd.service", expected: "active", observed: "failed" },
      ],
    });
    await page.click("text=Incidents");
    await page.waitForURL(/\/dashboard\/incidents$/);
    const rowOf = (id: string) => page.locator(`tr[data-incident="${id}"]`);
    await rowOf(first.incident_id).waitFor();
    await rowOf(second.incident_id).waitFor();
    await shot("incidents");

    const runbook = await rowOf(first.incident_id).locator("select option").first().textContent();
    expect(runbook).toMatch(/^RB-/);
    await rowOf(first.incident_id)
      .getByLabel("runbook", { exact: true })
      .selectOption(runbook as string);
    await rowOf(first.incident_id).locator("button", { hasText: "Approve" }).click();
    await expectText(`(${runbook}) issued`);
    expect(await rowOf(first.incident_id).count()).toBe(0);

    await rowOf(second.incident_id)
      .locator('input[name="note"]')
      .first()
      .fill("sshd is off on purpose");
    await rowOf(second.incident_id).locator("button", { hasText: "Reject" }).click();
    await expectText("Incident rejected.");
    expect(await rowOf(second.incident_id).count()).toBe(0);

    const planner = world.h.store.planner;
    expect((await planner.getIncident("clinic-a", "clinic-a-01", first.incident_id))?.status).toBe(
      "ordered",
    );
    expect((await planner.getIncident("clinic-a", "clinic-a-01", second.incident_id))?.status).toBe(
      "rejected",
    );

    // The appliance polls the signed order and reports it done; the orders page shows it.
    const { orders } = await site.poll();
    expect(orders.map((o) => o.runbook_id)).toEqual([runbook]);
    issued.push(...orders);
    await site.report(orders[0] as Order, "succeeded");
    await page.click("text=Orders");
    const orderRow = page.locator(`tr[data-order="${orders[0]?.order_id}"]`);
    await orderRow.waitFor();
    expect(await orderRow.textContent()).toContain("succeeded");
    await shot("orders");
  });

  it("approves one flywheel proposal (a signed rule set) and rejects another", async () => {
    const propose = async (patternKey: string, runbookId: string) => {
      const proposalId = randomUUID();
      const [checkId = "", finding = ""] = patternKey.split("/");
      await world.h.store.planner.createProposal({
        proposalId,
        tenantId: "clinic-a",
        patternKey,
        checkId,
        finding,
        runbookId,
        successes: 5,
        status: "proposed",
        createdAt: new Date().toISOString(),
      });
      return proposalId;
    };
    const cpu = await propose("services/cpu_load_high", "RB-CPU-001-high");
    const crash = await propose("services/unit_failed", "RB-SERVICE-001-crash");
    await page.click("text=Flywheel");
    await page.waitForURL(/\/dashboard\/proposals$/);
    const rowOf = (id: string) => page.locator(`tr[data-proposal="${id}"]`);
    await shot("flywheel");
    await rowOf(cpu).locator("button", { hasText: "Approve" }).click();
    await expectText("Proposal approved.");
    await rowOf(crash).locator('input[name="note"]').last().fill("crash loops need a person");
    await rowOf(crash).locator("button", { hasText: "Reject" }).click();
    await expectText("Proposal rejected.");
    expect(await rowOf(cpu).textContent()).toContain("approved");
    expect(await rowOf(crash).textContent()).toContain("crash loops need a person");
    const rules = await world.h.app.planner.rules("clinic-a");
    expect(JSON.stringify(rules)).toContain("RB-CPU-001-high");
    expect(JSON.stringify(rules)).not.toContain("RB-SERVICE-001-crash");
  });

  it("generates this month's packet and downloads its PDF", async () => {
    const month = new Date().toISOString().slice(0, 7);
    await page.click("text=Packets");
    await page.waitForURL(/\/dashboard\/packets$/);
    await page.fill('input[name="month"]', month);
    await page.click("button:has-text('Generate packet')");
    await expectText(`Packet for ${month} queued.`);
    // The packet is made by a job: the page lists it once the job is done.
    const row = page.locator(`tr[data-packet="clinic-a/${month}/v1"]`);
    await expect
      .poll(
        async () => {
          await page.reload();
          return row.count();
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(1);
    await shot("packets");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.locator("a", { hasText: "packet.pdf" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`clinic-a-${month}-v1-packet.pdf`);
    const saved = join(packets, "downloaded.pdf");
    await download.saveAs(saved);
    const pdf = readFileSync(saved);
    expect(pdf.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    expect(pdf.length).toBeGreaterThan(1000);
    if (SCREENSHOTS) {
      // The tour's packet image: page 1 of the PDF the browser downloaded.
      const out = spawnSync("pdftoppm", [
        "-png",
        "-r",
        "60",
        "-f",
        "1",
        "-l",
        "1",
        "-singlefile",
        saved,
        join(IMAGES, "packet-page1"),
      ]);
      expect(out.status).toBe(0);
    }
  });

  it("shows the evidence chain verified and the audit log with both decisions", async () => {
    expect(issued).toHaveLength(1);
    await page.goto(`${server.url}/dashboard/evidence/clinic-a/clinic-a-01`);
    expect(await page.locator("#chain-status").textContent()).toContain("verified: 1 bundles");
    await shot("evidence");

    await page.click("text=Audit log");
    await page.waitForURL(/\/dashboard\/audit$/);
    expect(await page.locator("#audit-status").textContent()).toContain("hash chain verified");
    const rows = page.locator("tbody tr", { hasText: "operator:olivia" });
    const actions = await rows.locator("code").allTextContents();
    expect(actions).toEqual(
      expect.arrayContaining([
        "incident.order_issued",
        "incident.rejected",
        "operator.login",
        "flywheel.rule_approved",
        "flywheel.rule_rejected",
        "packet.generated",
      ]),
    );
    expect(actions).toContain("operator.login_failed");
    await shot("audit");
  });
});

async function expectText(text: string) {
  await page.getByText(text, { exact: false }).first().waitFor();
}
