import { DESTRUCTIVE_ACTIONS } from "../destructive-actions.ts";
import { actionMatches, parsePolicyDocument } from "./iam-documents.ts";
import { resourcePolicy } from "./types.ts";

const IAM_POLICIES = new Set([
  "aws:iam/userPolicy:UserPolicy",
  "aws:iam/rolePolicy:RolePolicy",
  "aws:iam/groupPolicy:GroupPolicy",
  "aws:iam/policy:Policy",
]);

/**
 * An identity that may put objects is a writer; a writer must not be granted any action that
 * deletes evidence or weakens the bucket's protection (not even with a Deny beside it: least
 * privilege means never granting it). `NotAction` in an Allow grants almost everything.
 */
export const writerNeverDeletes = resourcePolicy({
  name: "writer-never-deletes",
  description:
    "No IAM policy that allows s3:PutObject also allows deleting objects or versions, bypassing retention, or changing the bucket's lock, versioning, lifecycle, encryption or policy.",
  check(args, report) {
    if (!IAM_POLICIES.has(args.type)) return;
    const allows = parsePolicyDocument(args.props.policy).filter((s) => s.Effect === "Allow");
    if (allows.some((s) => s.notActions.length > 0)) {
      report(
        "an Allow with NotAction grants nearly every action; list the writer's actions instead",
      );
      return;
    }
    const granted = allows.flatMap((s) => s.actions);
    if (!granted.some((p) => actionMatches(p, "s3:PutObject"))) return; // not a writer
    const destructive = DESTRUCTIVE_ACTIONS.filter((a) => granted.some((p) => actionMatches(p, a)));
    if (destructive.length > 0) {
      report(`a writer identity may not be granted ${destructive.join(", ")}`);
    }
  },
});
