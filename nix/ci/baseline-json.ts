/**
 * The baseline as Nix reads it. Nix cannot read YAML with builtins, so `npm run nix:baseline`
 * renders baseline/hipaa-v1.yaml (through the catalog loader, which validates and cross-checks
 * it) into nix/baseline/hipaa-v1.json, which the NixOS module reads with builtins.fromJSON. The
 * JSON is committed so a clean clone builds without npm; baseline-json.test.ts fails when it is
 * not what the YAML renders to. One source: the YAML.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCatalog } from "#catalog";

const root = join(import.meta.dirname, "..", "..");
export const NIX_BASELINE_PATH = join(root, "nix", "baseline", "hipaa-v1.json");

export interface NixBaseline {
  readonly id: string;
  readonly version: number;
  readonly generated_from: string;
  /** Toggle id → value, as the YAML states it. */
  readonly toggles: Readonly<Record<string, unknown>>;
  /** Toggle id → the NixOS options the YAML says set it. */
  readonly nixos_options: Readonly<Record<string, readonly string[]>>;
  readonly allowed_units: readonly string[];
}

export async function renderNixBaseline(catalogRoot = root): Promise<string> {
  const catalog = await loadCatalog(catalogRoot);
  const rendered: NixBaseline = {
    id: catalog.baseline.id,
    version: catalog.baseline.version,
    generated_from: "baseline/hipaa-v1.yaml (npm run nix:baseline)",
    toggles: Object.fromEntries(catalog.toggles.map((t) => [t.id, t.value])),
    nixos_options: Object.fromEntries(catalog.toggles.map((t) => [t.id, t.nixos_options])),
    allowed_units: catalog.baseline.allowed_units.map((u) => u.pattern),
  };
  return `${JSON.stringify(rendered, null, 2)}\n`;
}

if (import.meta.main) {
  writeFileSync(NIX_BASELINE_PATH, await renderNixBaseline());
  process.stdout.write("wrote nix/baseline/hipaa-v1.json\n");
}
