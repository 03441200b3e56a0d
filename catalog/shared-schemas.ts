import { z } from "zod";
import { Finding } from "#protocol";

/** Toggle ids are kebab-case: `ssh-password-auth-disabled`. */
export const ToggleId = z
  .string()
  .regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/, "use kebab-case, for example ssh-root-login-disabled")
  .max(64);

/** A finding kind, as a drift check reports it in protocol's Finding.code. */
export const FindingKind = Finding.shape.code;

/**
 * A NixOS option path as the NixOS manual writes it: `services.openssh.settings.PermitRootLogin`,
 * with `<name>` for attribute-set entries and `*` for list entries (`swapDevices.*.randomEncryption`).
 */
export const NixOptionPath = z
  .string()
  .max(160)
  .regex(
    /^[a-zA-Z_][a-zA-Z0-9_-]*(?:\.(?:[a-zA-Z_][a-zA-Z0-9_-]*|<name>|\*))+$/,
    "write a NixOS option path such as services.openssh.settings.PermitRootLogin",
  );

/** Required (R) or addressable (A), as Appendix A to Subpart C of Part 164 marks them. */
export const Requirement = z.enum(["required", "addressable"]);
export type Requirement = z.infer<typeof Requirement>;

/** Free text a person reads; bounded so a file stays reviewable. */
export function Text(min: number, max: number) {
  return z.string().trim().min(min).max(max);
}

/** An array whose entries must be distinct (tiers, citations, evidence types). */
export function uniqueArray<T extends z.ZodType>(item: T) {
  return z.array(item).superRefine((values, ctx) => {
    const seen = new Set<unknown>();
    values.forEach((value, index) => {
      if (seen.has(value)) {
        ctx.addIssue({ code: "custom", path: [index], message: `lists ${String(value)} twice` });
      }
      seen.add(value);
    });
  });
}
