/** A statement of an IAM policy document, normalised (actions as a list, lower-case compare). */
export interface Statement {
  readonly Effect: string;
  readonly actions: readonly string[];
  readonly notActions: readonly string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Parses a policy document given as JSON text or object; unknown (preview) gives []. */
export function parsePolicyDocument(policy: unknown): Statement[] {
  let doc: unknown = policy;
  if (typeof policy === "string") {
    try {
      doc = JSON.parse(policy);
    } catch {
      return [];
    }
  }
  if (typeof doc !== "object" || doc === null) return [];
  const raw = (doc as { Statement?: unknown }).Statement;
  const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return statements.map((s: Record<string, unknown>) => ({
    Effect: String(s.Effect),
    actions: list(s.Action),
    notActions: list(s.NotAction),
    ...(s.Condition ? { Condition: s.Condition as Statement["Condition"] } : {}),
  }));
}

function list(value: unknown): string[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);
}

/** IAM action matching: case-insensitive, `*` and `?` wildcards. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return re.test(action);
}
