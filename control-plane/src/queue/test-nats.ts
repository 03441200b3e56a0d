import { connect } from "@nats-io/transport-node";

/** The test NATS server (JetStream on); override with TEST_NATS_URL. Required in CI. */
export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

export async function natsReachable(): Promise<boolean> {
  try {
    const nc = await connect({ servers: TEST_NATS_URL, timeout: 2000, reconnect: false });
    await nc.close();
    return true;
  } catch (error) {
    if (process.env.CI)
      throw new Error(`NATS is required in CI at ${TEST_NATS_URL}`, { cause: error });
    console.warn(`[skip] NATS not reachable at ${TEST_NATS_URL}: NATS tests skipped`);
    return false;
  }
}
