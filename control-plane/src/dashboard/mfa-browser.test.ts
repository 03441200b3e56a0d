import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEFAULT_SIGN_IN } from "../operator/settings.ts";
import { base32Decode, totp } from "../operator/totp.ts";
import { openSqliteStore } from "../store/index.ts";
import { type BrowserSession, browserSuite, openBrowser } from "../testing/browser.ts";
import { createHarness, type Harness } from "../testing/harness.ts";

/**
 * An admin signs in to the dashboard in Chromium with password and TOTP code (the production
 * settings: admins need a code, sessions end after 30 idle minutes); the clock is injected, so
 * the idle timeout is shown by moving it rather than by waiting.
 */
const suite = browserSuite("the second-factor browser test");
const PASSWORD = "an admin password of some length";
let dir: string;
let h: Harness;
let browser: BrowserSession;
let clock = new Date("2026-11-02T09:00:10Z");
let secret: Buffer;

suite("second factor and idle timeout in headless Chromium", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cp-mfa-browser-"));
    h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")), {
      clock: () => clock,
      signIn: DEFAULT_SIGN_IN,
    });
    const made = await h.admin("/operators", {
      username: "ada",
      role: "admin",
      scope: { tenants: "*" },
      password: PASSWORD,
    });
    const body = (await made.json()) as { totp: { secret: string } };
    secret = base32Decode(body.totp.secret) as Buffer;
    browser = await openBrowser(h.app);
  }, 40_000);

  afterAll(async () => {
    await browser?.close();
    await h?.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function signIn(code: string) {
    const { page, server } = browser;
    await page.goto(`${server.url}/dashboard/login`);
    await page.fill("#username", "ada");
    await page.fill("#password", PASSWORD);
    await page.fill("#code", code);
    await page.click("button.primary");
  }

  it("refuses the password without a code, and with a wrong one", async () => {
    const { page, server } = browser;
    await signIn("");
    expect(await page.textContent("body")).toContain("missing or wrong one-time code");
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    await signIn("000000");
    expect(await page.textContent("body")).toContain("missing or wrong one-time code");
    await page.goto(`${server.url}/dashboard/operators`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
  });

  it("signs in with password and code, refuses the same code again", async () => {
    const { page, server, context } = browser;
    clock = new Date(clock.getTime() + 30_000);
    const code = totp(secret, clock);
    await signIn(code);
    await page.waitForURL(`${server.url}/dashboard`);
    await page.goto(`${server.url}/dashboard/operators`);
    expect(await page.textContent("body")).toContain("ada");
    // Signed out (cookies gone), the same code within its step is refused.
    await context.clearCookies();
    await signIn(code);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
    expect(await page.textContent("body")).toContain("missing or wrong one-time code");
  });

  it("ends the session after the idle timeout", async () => {
    const { page, server } = browser;
    clock = new Date(clock.getTime() + 30_000);
    await signIn(totp(secret, clock));
    await page.waitForURL(`${server.url}/dashboard`);
    clock = new Date(clock.getTime() + 29 * 60_000);
    await page.goto(`${server.url}/dashboard/operators`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/operators");
    clock = new Date(clock.getTime() + DEFAULT_SIGN_IN.session.idleMs);
    await page.goto(`${server.url}/dashboard/operators`);
    expect(new URL(page.url()).pathname).toBe("/dashboard/login");
  });
});
