import type { LabCommand, LabOutput } from "../registry.ts";
import { failsOnce } from "./faults.ts";

const PROFILE = "/nix/var/nix/profiles/system";
const GENERATION_BYTES = 6 * 1024 ** 3;

/**
 * nix-env -p <system profile> --set <path> | --delete-generations +<n>: the profile's generations.
 * --set adds a generation pointing at a system already in the store (a known generation's
 * closure); nothing is activated until switch-to-configuration runs. Deleting never removes the
 * running generation; each deleted one leaves garbage for nix-store --gc.
 */
export const nixEnv: LabCommand = (args, ctx) => {
  if (args[0] !== "-p" || args[1] !== PROFILE) return usage("nix-env", args);
  if (args[2] === "--set" && args.length === 4) {
    const path = args[3] as string;
    const known = ctx.state.nixos.generations.find((g) => g.system === path);
    if (!known) {
      return { code: 1, stdout: "", stderr: `error: path '${path}' is not valid\n` };
    }
    ctx.update((s) => {
      const number = Math.max(...s.nixos.generations.map((g) => g.number)) + 1;
      s.nixos.generations.push({ number, system: path, created_at: ctx.now.toISOString() });
      s.healing.profile = number;
    });
    return { code: 0, stdout: "" };
  }
  const keep =
    args[2] === "--delete-generations" && args.length === 4
      ? /^\+(\d+)$/.exec(args[3] as string)
      : null;
  if (keep) {
    const n = Number(keep[1]);
    const { nixos, healing } = ctx.state;
    const newest = [...nixos.generations].sort((a, b) => b.number - a.number).slice(0, n);
    const stay = new Set([
      ...newest.map((g) => g.number),
      nixos.current,
      nixos.booted,
      healing.profile ?? nixos.current,
    ]);
    const gone = nixos.generations.filter((g) => !stay.has(g.number));
    ctx.update((s) => {
      s.nixos.generations = s.nixos.generations.filter((g) => stay.has(g.number));
      s.healing.garbage_bytes += gone.length * GENERATION_BYTES;
    });
    return { code: 0, stdout: gone.map((g) => `removing profile version ${g.number}\n`).join("") };
  }
  return usage("nix-env", args);
};

/** nix-store --gc: frees what deleted generations (and the lab's injected garbage) left. */
export const nixStore: LabCommand = (args, ctx) => {
  if (args.length !== 1 || args[0] !== "--gc") return usage("nix-store", args);
  const freed = ctx.state.healing.garbage_bytes;
  ctx.update((s) => {
    s.healing.garbage_bytes = 0;
    const root = s.mounts.find((m) => m.target === "/");
    if (root) root.used_bytes = Math.max(0, root.used_bytes - freed);
  });
  const paths = Math.ceil(freed / (50 * 1024 ** 2));
  return {
    code: 0,
    stdout: `${paths} store paths deleted, ${(freed / 1024 ** 2).toFixed(2)} MiB freed\n`,
  };
};

/**
 * <profile>/bin/switch-to-configuration switch: activates the profile's generation (now running
 * and the boot default; the booted one changes at the next reboot; the health gate's record is
 * not moved, as the lab runs no gate). `fail_once` makes it fail
 * the way a broken activation does, with the profile already moved.
 */
export const switchToConfiguration: LabCommand = (args, ctx) => {
  if (args.length !== 1 || args[0] !== "switch") return usage("switch-to-configuration", args);
  if (failsOnce(ctx, "switch-to-configuration")) {
    return {
      code: 4,
      stdout: "",
      stderr: "warning: error(s) occurred while switching to the new configuration\n",
    };
  }
  ctx.update((s) => {
    // The health gate has not passed the new generation: its record keeps the one that ran.
    s.nixos.good ??= s.nixos.current;
    s.nixos.current = s.healing.profile ?? s.nixos.current;
  });
  return { code: 0, stdout: "activating the configuration...\n" };
};

const usage = (program: string, args: readonly string[]): LabOutput => ({
  code: 1,
  stdout: "",
  stderr: `${program}: lab emulator does not support: ${args.join(" ")}\n`,
});
