import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppDeps } from "../env.ts";
import { createCertificateAuthority, issueServerCertificate } from "../pki/index.ts";
import { type RunningServer, startServer } from "../server.ts";
import { openSqliteStore } from "../store/index.ts";
import { createHarness, type Harness } from "./harness.ts";

export interface TlsHarness {
  readonly h: Harness;
  readonly server: RunningServer;
  /** The server CA's certificate, for clients to pin. */
  readonly ca: string;
  close(): Promise<void>;
}

/**
 * A harness on a fresh SQLite store served by the real HTTPS listener on 127.0.0.1, with a
 * server certificate from its own CA: attacks from outside go through real TLS.
 */
export async function startTlsHarness(
  prefix: string,
  overrides: Partial<AppDeps> = {},
): Promise<TlsHarness> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")), overrides);
  const serverCa = await createCertificateAuthority("test server CA");
  const tls = await issueServerCertificate(serverCa, { dns: ["localhost"], ip: ["127.0.0.1"] });
  const server = await startServer(h.app, tls, { port: 0, host: "127.0.0.1" });
  return {
    h,
    server,
    ca: serverCa.certPem,
    async close() {
      await server.close();
      await h.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
