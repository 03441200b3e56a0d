import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FREE_FAILURES, signInSubject } from "./operator/sign-in.ts";
import { addOperator, httpsPost } from "./testing/harness.ts";
import { startTlsHarness, type TlsHarness } from "./testing/tls-server.ts";

/**
 * Sign-in brute force against the real server over TLS, from several loopback source
 * addresses: failures slow the address that makes them and never lock the owner out, an unknown
 * name is answered exactly like a known one, concurrent failures all count, and the audit log
 * never carries the caller's text as the actor.
 */
const password = "correct horse battery staple";
let t: TlsHarness;

beforeAll(async () => {
  t = await startTlsHarness("cp-sign-in-");
  await addOperator(t.h.store, "admin", password);
});
afterAll(() => t.close());

const login = (from: string, username: string, pw: string) =>
  httpsPost(
    `${t.server.url}/v1/operator/login`,
    { username, password: pw },
    { ca: t.ca, localAddress: from },
  );

describe("sign-in throttling over TLS", () => {
  it("an attacker's failures never lock the owner out from a fresh address", async () => {
    for (let i = 0; i < FREE_FAILURES; i++) {
      expect((await login("127.0.0.2", "admin", "guess")).status).toBe(401);
    }
    // The attacker's address now waits (the password is not even checked) …
    const slowed = await login("127.0.0.2", "admin", password);
    expect(slowed).toMatchObject({ status: 429, json: { code: "locked_out" } });
    // … while the owner signs in from another address at once.
    expect((await login("127.0.0.3", "admin", password)).status).toBe(200);
  });

  it("answers an unknown name exactly as a known one, also once throttled", async () => {
    const answers = async (from: string, username: string) => {
      const seen: unknown[] = [];
      for (let i = 0; i <= FREE_FAILURES; i++) {
        const res = await login(from, username, "guess");
        const { instance: _i, request_id: _r, ...rest } = res.json as Record<string, unknown>;
        seen.push({ status: res.status, ...rest });
      }
      return seen;
    };
    const known = await answers("127.0.0.4", "admin");
    const unknown = await answers("127.0.0.5", "nobody-here");
    expect(unknown).toEqual(known);
    expect(known.at(-1)).toMatchObject({ status: 429 });
  });

  it("counts ten concurrent wrong passwords as ten", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => login("127.0.0.6", "admin", "guess")),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(401));
    expect(await t.h.store.getSignInFailures(signInSubject("admin"), "127.0.0.6")).toMatchObject({
      failures: 10,
    });
  });

  it("records a failed sign-in without the caller's text as the actor", async () => {
    const name = "evil</td><script>x</script>";
    expect((await login("127.0.0.7", name, "guess")).status).toBe(401);
    expect((await login("127.0.0.7", "admin", "guess")).status).toBe(401);
    const failed = (await t.h.store.listAudit(0, 10_000)).filter(
      (e) => e.action === "operator.login_failed" && e.detailJson.includes("127.0.0.7"),
    );
    expect(failed.map((e) => e.actor)).toEqual(["unknown", "operator:admin"]);
    for (const e of failed) expect(JSON.stringify(e)).not.toContain("script");
    expect(failed[0]?.target).toBe(`sign-in:${signInSubject(name).slice(0, 16)}`);
  });
});
