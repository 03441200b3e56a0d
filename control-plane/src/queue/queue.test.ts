import { randomBytes } from "node:crypto";
import { describe, it } from "vitest";
import { queueContract } from "./contract.ts";
import { inProcessQueue } from "./in-process.ts";
import { deleteNatsStreams, natsQueue } from "./nats.ts";
import { natsReachable, TEST_NATS_URL } from "./test-nats.ts";

queueContract("in-process", async () => ({
  queue: inProcessQueue({ maxDeliver: 3, retryDelayMs: 20 }),
  cleanup: async () => {},
}));

if (await natsReachable()) {
  queueContract("NATS JetStream", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}_`;
    return {
      queue: await natsQueue({
        servers: TEST_NATS_URL,
        prefix,
        maxDeliver: 3,
        retryDelayMs: 50,
        ackWaitMs: 2000,
      }),
      cleanup: () => deleteNatsStreams(TEST_NATS_URL, prefix),
    };
  });
} else {
  describe("Queue contract: NATS JetStream", () => {
    it.skip(`skipped: no NATS at ${TEST_NATS_URL} (never skipped in CI)`, () => {});
  });
}
