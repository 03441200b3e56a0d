import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dataDirLayout, loadConfig } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "cp-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("config", () => {
  it("derives defaults from the data directory and lets flags override", () => {
    const config = loadConfig({ dataDir: "/srv/cp", overrides: { port: 0, host: "::1" } });
    expect(config).toMatchObject({
      data_dir: "/srv/cp",
      listen: { host: "::1", port: 0 },
      store: { kind: "sqlite" },
    });
    expect(dataDirLayout("/srv/cp").orderPubB64).toBe("/srv/cp/keys/order-signing.pub.b64");
    const pg = loadConfig({
      dataDir: "/srv/cp",
      overrides: { database_url: "postgres://u@db/cp" },
    });
    expect(pg.store).toEqual({ kind: "postgres", url: "postgres://u@db/cp" });
  });

  it("reads a strict JSON file and names the path of a mistake", () => {
    const file = join(dir, "config.json");
    writeFileSync(
      file,
      JSON.stringify({ data_dir: "/x", listen: { port: 9443 }, log_level: "warn" }),
    );
    expect(loadConfig({ configFile: file })).toMatchObject({
      listen: { host: "127.0.0.1", port: 9443 },
      log_level: "warn",
    });
    writeFileSync(file, JSON.stringify({ data_dir: "/x", listn: { port: 1 } }));
    expect(() => loadConfig({ configFile: file })).toThrow(/listn/);
    writeFileSync(
      file,
      JSON.stringify({ data_dir: "/x", store: { kind: "postgres", url: "mysql://x" } }),
    );
    expect(() => loadConfig({ configFile: file })).toThrow(
      expect.objectContaining({ name: "ControlPlaneError", code: "invalid_config" }),
    );
    expect(() => loadConfig({ configFile: join(dir, "missing.json") })).toThrow(/cannot read/);
    expect(() => loadConfig({})).toThrow(/data_dir/);
  });
});
