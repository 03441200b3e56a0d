/**
 * Child process for the crash test: appends bursts of evidence to a journal and prints
 * "ack <seq>" after each append returns (i.e. after the commit), until it is killed.
 *   node journal-burst.ts <journal.sqlite> <evidence-key.pem>
 */
import { readFileSync, writeSync } from "node:fs";
import { createSigner, privateKeyFromPem } from "#protocol";
import { openJournal } from "../journal.ts";

const [path, keyPath] = process.argv.slice(2);
if (!path || !keyPath) throw new Error("usage: journal-burst.ts <journal> <key>");
const signer = createSigner(privateKeyFromPem(readFileSync(keyPath, "utf8")));
const journal = openJournal(path, { tenantId: "clinic-a", applianceId: "clinic-a-01" }, signer);
for (let i = 0; ; i++) {
  const size = 1 + (i % 17);
  const sealed = journal.append(
    Array.from({ length: size }, (_, k) => ({
      kind: "check_result" as const,
      check_id: "services",
      status: "pass" as const,
      severity: "low" as const,
      findings: [{ code: "unit_active", subject: `unit-${k}.service` }],
      duration_ms: k,
    })),
    new Date(),
  );
  writeSync(1, `ack ${sealed.at(-1)?.head.seq}\n`);
}
