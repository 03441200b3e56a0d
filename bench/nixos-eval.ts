/**
 * bench/nixos-eval: how long the NixOS evaluator (nix/ci/nixos) takes for the appliance
 * (nixosConfigurations.appliance through the flake, against NixOS's real module files) compared
 * with a baseline measured in the same run: the module alone with its defaults and a minimal
 * site (module-minimal). Each is one `nix-instantiate --eval --strict` process, as CI runs it;
 * the median of BENCH_RUNS (default 5) alternating runs is reported. Prints one JSON object.
 *
 *   npm run bench:nixos-eval
 */
import { loadavg } from "node:os";
import { evaluate, evaluatorReady, ORACLE } from "../nix/ci/evaluator.ts";

const runs = Number(process.env.BENCH_RUNS ?? "5");
if (!(Number.isInteger(runs) && runs >= 1 && runs <= 50)) {
  throw new Error("BENCH_RUNS must be an integer between 1 and 50");
}
if (!evaluatorReady) {
  throw new Error(
    `the evaluator needs nix-instantiate and the nixos-oracle test data at ${ORACLE}`,
  );
}

function timeOnce(target: string): number {
  const started = performance.now();
  const result = evaluate(target);
  const ms = performance.now() - started;
  if (result.code !== 0) throw new Error(`${target} does not evaluate:\n${result.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const targets = ["module-minimal", "appliance", "appliance-sops"] as const;
const times: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t, []]));
timeOnce("module-minimal"); // warm the file cache once
for (let i = 0; i < runs; i++) {
  for (const target of targets) times[target]?.push(timeOnce(target));
}
const baselineMs = median(times["module-minimal"] ?? []);
const round = (x: number) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify(
    {
      bench: "nixos-eval",
      runs,
      loadavg1: round(loadavg()[0] ?? 0),
      baseline: { target: "module-minimal", medianMs: round(baselineMs) },
      targets: Object.fromEntries(
        targets
          .filter((t) => t !== "module-minimal")
          .map((t) => {
            const ms = median(times[t] ?? []);
            return [t, { medianMs: round(ms), ratioToBaseline: round(ms / baselineMs) }];
          }),
      ),
    },
    null,
    2,
  ),
);
