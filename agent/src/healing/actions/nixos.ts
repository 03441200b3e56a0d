import healthGate from "../../host/health-gate.json" with { type: "json" };
import {
  type ActionContext,
  type ActionParams,
  exec,
  exitedOk,
  runOk,
  type StepResult,
} from "./context.ts";

/**
 * NixOS generations. A switch is what nixos-rebuild does after building: point the system profile
 * at the closure, then run that closure's switch-to-configuration. A failed switch (a rebuild
 * failure) puts the previous system back at once, so the appliance never stays between two
 * generations; nixos.rollback undoes a switch that succeeded but failed its health gate, back to
 * the system the upgrade health gate last passed: its good-system record (nix/health-gate.nix),
 * the one "known good" generation the gate and the agent share, set the same way (`nix-env
 * --set` to that path, then its switch-to-configuration).
 */
export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";
/** The health gate's record of the last system that passed it (agent/src/host/health-gate.json). */
export const GOOD_SYSTEM_RECORD: string = healthGate.goodSystemRecord;
export const SWITCH_COMMAND = `${SYSTEM_PROFILE}/bin/switch-to-configuration`;
const STORE_SYSTEM = /^\/nix\/store\/[0-9a-z]{32}-[^/]+$/;

async function resolveGeneration(
  generation: string | number | boolean | undefined,
  ctx: ActionContext,
): Promise<string | StepResult> {
  if (generation === "expected") {
    return ctx.expected.expected_system ?? { ok: false, detail: "no expected system configured" };
  }
  if (typeof generation !== "number") return { ok: false, detail: "invalid generation" };
  const target = await ctx.host.readlink(`${SYSTEM_PROFILE}-${generation}-link`);
  return target !== undefined && STORE_SYSTEM.test(target)
    ? target
    : { ok: false, detail: `generation ${generation} does not exist` };
}

export async function generationAvailable(
  params: ActionParams,
  ctx: ActionContext,
): Promise<StepResult> {
  const system = await resolveGeneration(params.generation, ctx);
  if (typeof system !== "string") return system;
  // The closure's top directory exists only once the store holds it (a GC removes it whole).
  const stat = await ctx.host.stat(system);
  return stat?.kind === "directory"
    ? { ok: true }
    : { ok: false, detail: "the generation's closure is not in the Nix store" };
}

async function switchTo(system: string, ctx: ActionContext): Promise<StepResult> {
  const set = await runOk(ctx, ["nix-env", "-p", SYSTEM_PROFILE, "--set", system]);
  if (!set.ok) return set;
  return runOk(ctx, [SWITCH_COMMAND, "switch"]);
}

export async function switchGeneration(
  params: ActionParams,
  ctx: ActionContext,
): Promise<StepResult> {
  const target = await resolveGeneration(params.generation, ctx);
  if (typeof target !== "string") return target;
  const before = await ctx.host.readlink("/run/current-system");
  if (before === undefined || !STORE_SYSTEM.test(before)) {
    return { ok: false, detail: "cannot read the running system; nothing was changed" };
  }
  if (before === target) return { ok: true, detail: "already running the generation" };
  ctx.memory.systemBefore ??= before;
  const switched = await switchTo(target, ctx);
  if (switched.ok) {
    ctx.memory.switched = true;
    return switched;
  }
  // Rebuild failure: back to the generation that ran before, now.
  const restored = await switchTo(before, ctx);
  ctx.memory.switched = !restored.ok;
  return {
    ok: false,
    detail: restored.ok
      ? `${switched.detail}; the previous generation was restored`
      : `${switched.detail}; restoring the previous generation failed too: ${restored.detail}`,
    findings: [
      {
        code: restored.ok ? "rebuild_rolled_back" : "rebuild_rollback_failed",
        expected: target,
        observed: before,
      },
    ],
  };
}

/** The system the health gate last passed, from its record. */
async function knownGood(ctx: ActionContext): Promise<string | StepResult> {
  const good = (await ctx.host.readFile(GOOD_SYSTEM_RECORD, 4096))?.trim();
  if (good === undefined || good === "") {
    return {
      ok: false,
      detail: `no system has passed the health gate (${GOOD_SYSTEM_RECORD} is absent): nothing known good to return to`,
    };
  }
  return STORE_SYSTEM.test(good)
    ? good
    : { ok: false, detail: `${GOOD_SYSTEM_RECORD} does not hold a system store path` };
}

export async function rollback(_params: ActionParams, ctx: ActionContext): Promise<StepResult> {
  if (!ctx.memory.switched || ctx.memory.systemBefore === undefined) {
    return { ok: true, detail: "no switch of this run to undo" };
  }
  const good = await knownGood(ctx);
  if (typeof good !== "string") return good;
  const running = await ctx.host.readlink("/run/current-system");
  if (running === good) {
    return { ok: false, detail: "the running system is the one the health gate last passed" };
  }
  const restored = await switchTo(good, ctx);
  if (restored.ok) ctx.memory.switched = false;
  return restored;
}

/** Keeps the newest `keep` system generations (the running one is never deleted by nix-env). */
export async function collectGarbage(
  params: ActionParams,
  ctx: ActionContext,
): Promise<StepResult> {
  const keep = Number(params.keep);
  const trimmed = await runOk(ctx, [
    "nix-env",
    "-p",
    SYSTEM_PROFILE,
    "--delete-generations",
    `+${keep}`,
  ]);
  if (!trimmed.ok) return trimmed;
  const argv = ["nix-store", "--gc"] as const;
  return exitedOk(await exec(ctx, argv), argv);
}
