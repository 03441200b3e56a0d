import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner, GENESIS_HEAD, generateEd25519KeyPair, sha256Hex } from "#protocol";
import { silentLogger } from "../logger.ts";
import { openSqliteStore, type Store } from "../store/index.ts";
import { s3Archive } from "./s3-archive.ts";
import { createVault } from "./vault.ts";

/**
 * The S3 protocol path against a real S3-compatible server process on loopback (s3rver), with a
 * recording HTTP proxy in front of it, so the test sees every request exactly as it went over the
 * wire: each PUT must carry the Object Lock mode, the retain-until date and the SHA-256 checksum.
 * (s3rver stores objects but does not enforce Object Lock; AWS and Object-Lock-capable stores do.)
 */
const root = mkdtempSync(join(tmpdir(), "cp-s3-"));
let s3rver: ChildProcess;
let proxy: Server;
let endpoint: string;
let store: Store;
const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
let failPuts = 0;
const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

beforeAll(async () => {
  s3rver = spawn(
    process.execPath,
    [
      join(import.meta.dirname, "../../../node_modules/s3rver/bin/s3rver.js"),
      "-d",
      join(root, "s3"),
      "-a",
      "127.0.0.1",
      "-p",
      "0",
      "--silent",
      "--no-vhost-buckets",
      "--configure-bucket",
      "evidence",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const upstreamPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("s3rver did not start")), 15_000);
    createInterface({ input: s3rver.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const m = /listening on [\d.]+:(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  // The recording proxy: forwards byte for byte (the Host header too, so signatures hold).
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.method === "PUT" && failPuts > 0) {
        failPuts--;
        res.writeHead(503, { "content-type": "application/xml" });
        res.end("<Error><Code>SlowDown</Code><Message>try later</Message></Error>");
        return;
      }
      const upstream = request(
        {
          host: "127.0.0.1",
          port: upstreamPort,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  store = openSqliteStore(join(root, "cp.sqlite"));
  await store.migrate();
}, 20_000);

afterAll(async () => {
  await store.close();
  proxy.close();
  s3rver.kill("SIGTERM");
  rmSync(root, { recursive: true, force: true });
});

describe("WORM archive on S3 Object Lock", () => {
  it("puts every segment and checkpoint with COMPLIANCE lock, retain-until and checksum, retrying failures", async () => {
    await store.upsertTenant({
      tenantId: "clinic-s",
      caCertPem: "ca",
      caKeySealed: "sealed",
      retentionDays: 2557, // this tenant keeps seven years: more than the configured six
    });
    await store.registerAppliance({
      tenantId: "clinic-s",
      applianceId: "s-01",
      macs: ["02:00:00:00:05:01"],
      settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
      tokenHash: null,
      tokenExpiresAt: null,
      createdAt: "2026-11-25T09:00:00.000Z",
    });
    const rows = Array.from({ length: 5 }, (_, i) => ({
      seq: i + 1,
      hash: sha256Hex(new Uint8Array([i])),
      prevHash: i === 0 ? GENESIS_HEAD.hash : sha256Hex(new Uint8Array([i - 1])),
      bundleJson: JSON.stringify({ seq: i + 1, note: "bundle as received" }),
    }));
    await store.appendEvidence("clinic-s", "s-01", GENESIS_HEAD, rows, "2026-11-25T09:10:00.000Z");

    let now = new Date("2026-11-25T10:00:01.000Z");
    const vault = createVault({
      store,
      signer: createSigner(generateEd25519KeyPair().privateKey),
      archive: s3Archive({
        bucket: "evidence",
        region: "us-east-1",
        endpoint,
        forcePathStyle: true,
        credentials,
      }),
      logger: silentLogger,
      now: () => now,
      retentionDays: 2192,
      segmentSeconds: 3600,
    });
    failPuts = 1;
    await vault.runOnce();
    const afterFirst = await store.listVaultObjects("clinic-s", "s-01");
    expect(afterFirst.filter((o) => o.status === "pending").map((o) => o.attempts)).toEqual([1]);
    now = new Date("2026-11-25T11:00:00.000Z");
    await vault.runOnce();

    const objects = await store.listVaultObjects("clinic-s", "s-01");
    expect(objects.map((o) => [o.kind, o.status])).toEqual([
      ["checkpoint", "archived"],
      ["segment", "archived"],
    ]);
    const puts = seen.filter((r) => r.method === "PUT");
    expect(puts.length).toBe(3); // one refused with 503, then both objects
    for (const put of puts) {
      expect(put.headers["x-amz-object-lock-mode"]).toBe("COMPLIANCE");
      const until = Date.parse(String(put.headers["x-amz-object-lock-retain-until-date"]));
      // The tenant's seven years win over the configured six; never less than six.
      expect(until).toBeGreaterThanOrEqual(Date.parse("2026-11-25T10:00:00Z") + 2557 * 86_400_000);
      const checksum = createHash("sha256").update(put.body).digest("base64");
      expect(put.headers["x-amz-checksum-sha256"]).toBe(checksum);
      expect(put.headers["content-length"]).toBe(String(put.body.length));
    }

    const client = new S3Client({
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials,
    });
    for (const o of objects) {
      const got = await client.send(new GetObjectCommand({ Bucket: "evidence", Key: o.objectKey }));
      const bytes = Buffer.from(
        await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      );
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(o.sha256);
      expect(o.archive).toBe("s3");
    }
    const segment = objects.find((o) => o.kind === "segment");
    expect(segment?.objectKey).toBe(
      "clinic-s/s-01/evidence/2026-11-25/090000-0000000000000001-0000000000000005.jsonl",
    );
    client.destroy();
  });
});
