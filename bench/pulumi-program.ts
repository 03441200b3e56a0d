/**
 * bench/pulumi-program: how long the tenant stack program takes under Pulumi's mocks (config
 * parsing, the ClientTenant tree of 26 resources, policy documents), against a baseline
 * measured in the same run: one component with the same number of bare resources. Also the
 * one-time closure serialization of the ApplianceEnrollment provider (what Pulumi stores in
 * the state), against serializing a trivial function. Prints one JSON object.
 *
 *   npm run bench:pulumi            (BENCH_RUNS=20 by default)
 *
 * Onboarding size: `pulumi preview` of one tenant stack and of 50 tenant stacks in a loop (each
 * its own stack, program and mock engine, as an MSP previews its clients one after another),
 * against the same loop of the bare-resource baseline.
 *
 * Machines here are noisy: compare the ratios, not absolute figures across runs.
 */
import * as pulumi from "@pulumi/pulumi";
import { enrollmentProvider } from "../components/enrollment/provider.ts";
import { runProgram } from "../components/program.ts";
import { TENANT_CONFIG } from "../components/testing/configs.ts";
import { recordResources, settled } from "../components/testing/mocks.ts";

const runs = Number(process.env.BENCH_RUNS ?? "20");
if (!(Number.isInteger(runs) && runs >= 3 && runs <= 500)) {
  throw new Error("BENCH_RUNS must be an integer between 3 and 500");
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pause = () => new Promise((r) => setTimeout(r, 20)); // let the last registrations land

class Thing extends pulumi.CustomResource {
  constructor(name: string, opts: pulumi.CustomResourceOptions) {
    super("bench:index:Thing", name, {}, opts);
  }
}
class Baseline extends pulumi.ComponentResource {
  public readonly last: pulumi.Output<string>;
  constructor(name: string, count: number) {
    super("bench:index:Baseline", name, {}, {});
    let last: Thing | undefined;
    for (let i = 0; i < count; i++) last = new Thing(`${name}-${i}`, { parent: this });
    this.last = (last as Thing).urn;
    this.registerOutputs({ last: this.last });
  }
}

const tenant: number[] = [];
const baseline: number[] = [];
let resources = 0;
for (let i = 0; i < runs; i++) {
  const recorded = await recordResources(`bench-${i}`);
  let t = performance.now();
  await settled(await runProgram(TENANT_CONFIG, `bench-${i}`));
  tenant.push(performance.now() - t);
  await pause();
  resources = recorded.filter((r) => r.type !== "pulumi:pulumi:StackReference").length - 1;

  await recordResources(`baseline-${i}`);
  t = performance.now();
  await settled({ last: new Baseline(`b${i}`, resources).last });
  baseline.push(performance.now() - t);
  await pause();
}

const serialize: number[] = [];
const trivial: number[] = [];
let providerBytes = 0;
for (let i = 0; i < Math.min(runs, 10); i++) {
  let t = performance.now();
  const text = (
    await pulumi.runtime.serializeFunction(() => enrollmentProvider, { allowSecrets: true })
  ).text;
  serialize.push(performance.now() - t);
  providerBytes = text.length;
  t = performance.now();
  await pulumi.runtime.serializeFunction(() => ({ create: async () => ({ id: "x" }) }));
  trivial.push(performance.now() - t);
}

const TENANTS = Number(process.env.BENCH_TENANTS ?? "50");
async function previewLoop(count: number, bare: boolean): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    const slug = `clinic-${i}`;
    await recordResources(slug, { preview: true });
    if (bare) await settled({ last: new Baseline(`p${i}`, resources).last });
    else
      await settled(
        await runProgram(
          { ...TENANT_CONFIG, "msp:clientSlug": slug, "msp:clientName": `Clinic ${i}` },
          slug,
        ),
      );
    await pause();
  }
  return performance.now() - t;
}
const previewOne = median([
  await previewLoop(1, false),
  await previewLoop(1, false),
  await previewLoop(1, false),
]);
const previewMany = await previewLoop(TENANTS, false);
const previewManyBaseline = await previewLoop(TENANTS, true);

const round = (x: number) => Math.round(x * 100) / 100;
process.stdout.write(
  `${JSON.stringify(
    {
      bench: "pulumi-program",
      node: process.version,
      runs,
      resources_per_tenant: resources,
      tenant_program_ms_median: round(median(tenant)),
      baseline_bare_resources_ms_median: round(median(baseline)),
      tenant_vs_baseline: round(median(tenant) / median(baseline)),
      provider_serialize_ms_median: round(median(serialize)),
      trivial_serialize_ms_median: round(median(trivial)),
      provider_vs_trivial_serialize: round(median(serialize) / median(trivial)),
      provider_closure_bytes: providerBytes,
      preview_one_tenant_ms: round(previewOne),
      preview_tenants: TENANTS,
      preview_all_tenants_ms: round(previewMany),
      preview_per_tenant_ms: round(previewMany / TENANTS),
      preview_all_baseline_ms: round(previewManyBaseline),
      preview_tenants_vs_baseline: round(previewMany / previewManyBaseline),
    },
    null,
    2,
  )}\n`,
);
