import type { LabCommandContext } from "../registry.ts";

/** True (and the fault consumed) when `name` was set to fail on its next run. */
export function failsOnce(ctx: LabCommandContext, name: string): boolean {
  if (!ctx.state.healing.fail_once.includes(name)) return false;
  ctx.update((s) => {
    s.healing.fail_once = s.healing.fail_once.filter((n) => n !== name);
  });
  return true;
}
