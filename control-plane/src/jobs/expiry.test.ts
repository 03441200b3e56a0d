import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../store/index.ts";
import { startExpiryJob } from "./expiry.ts";

const dir = mkdtempSync(join(tmpdir(), "cp-expiry-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the expiry job", () => {
  it("deletes an operator session once its lifetime has passed on the job's clock", async () => {
    const store = openSqliteStore(join(dir, "cp.sqlite"));
    await store.migrate();
    let clock = new Date("2026-11-30T08:00:00.000Z");
    await store.createOperator({ operatorId: "op-1", username: "op", passwordHash: "h" }, "x");
    await store.createSession({
      idHash: "a".repeat(64),
      operatorId: "op-1",
      csrfHash: "c",
      expiresAt: "2026-11-30T16:00:00.000Z",
    });
    const lines: unknown[] = [];
    const logger = {
      log: (_level: string, _message: string, fields?: unknown) => lines.push(fields),
    };
    const tick = async () => {
      const job = startExpiryJob(store, { logger, holder: "h", now: () => clock, intervalS: 3600 });
      await new Promise((r) => setImmediate(r));
      await job.stop();
    };
    await tick();
    expect(await store.getSession("a".repeat(64))).toBeDefined();
    clock = new Date("2026-11-30T16:00:00.000Z");
    await tick();
    expect(await store.getSession("a".repeat(64))).toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ sessions: 1 }));
    await store.close();
  });
});
