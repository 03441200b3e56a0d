import type { z } from "zod";
import { CodedError } from "#protocol";

/**
 * Closed set of reasons a component, the stack program or the new-client command refuses its
 * input: component arguments, stack configuration, a release that does not verify, a command
 * line that cannot be used.
 */
export type ComponentErrorCode = "invalid_args" | "invalid_config" | "invalid_release" | "usage";

/** The components' one error class (docs/contributing.md): a code from the closed union, a readable message, a cause. */
export class ComponentArgsError extends CodedError<ComponentErrorCode> {
  override readonly name = "ComponentArgsError";

  /** `Component: field: problem` lines, one per issue. */
  static fromZod(component: string, error: z.ZodError): ComponentArgsError {
    const lines = error.issues.map(
      (i) => `${component}: ${i.path.join(".") || "(args)"}: ${i.message}`,
    );
    return new ComponentArgsError("invalid_args", lines.join("\n"), { cause: error });
  }
}
