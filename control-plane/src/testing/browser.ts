import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { describe } from "vitest";
import type { App } from "../app.ts";
import { createCertificateAuthority, issueServerCertificate } from "../pki/index.ts";
import { type RunningServer, startServer } from "../server.ts";

/**
 * Browser tests: Debian's Chromium driven by playwright-core against an app behind real TLS on
 * loopback. The browser trusts exactly the server's key (--ignore-certificate-errors-spki-list),
 * not every certificate. Outside CI a machine without Chromium skips (and says so); in CI its
 * absence fails.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const haveChromium = existsSync(CHROMIUM);

/** `describe`, skipped (with a warning) where there is no Chromium and this is not CI. */
export function browserSuite(what: string): typeof describe {
  if (!haveChromium && !process.env.CI)
    console.warn(`skipping ${what}: no Chromium at ${CHROMIUM}`);
  return describe.skipIf(!haveChromium && !process.env.CI) as typeof describe;
}

export interface BrowserSession {
  readonly server: RunningServer;
  readonly context: BrowserContext;
  readonly page: Page;
  /** The profile folder (a test may write beside it). */
  readonly profile: string;
  close(): Promise<void>;
}

/** Serves `app` over TLS on 127.0.0.1 and opens Chromium pinned to that server's key. */
export async function openBrowser(
  app: App,
  options: { extraArgs?: readonly string[]; viewport?: { width: number; height: number } } = {},
): Promise<BrowserSession> {
  if (!haveChromium) {
    throw new Error(`the browser test needs Chromium at ${CHROMIUM} (Debian package chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), "cp-chromium-"));
  const ca = await createCertificateAuthority("browser test server CA");
  const tls = await issueServerCertificate(ca, { dns: ["localhost"], ip: ["127.0.0.1"] });
  const server = await startServer(app, tls, { port: 0, host: "127.0.0.1" });
  const spki = new X509Certificate(tls.certPem).publicKey.export({ type: "spki", format: "der" });
  const pin = createHash("sha256").update(spki).digest("base64");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, `--ignore-certificate-errors-spki-list=${pin}`, ...(options.extraArgs ?? [])],
    viewport: options.viewport ?? { width: 1100, height: 640 },
    timeout: 20_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  return {
    server,
    context,
    page,
    profile,
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
