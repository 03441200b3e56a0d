import ts from "typescript";

/**
 * Secrets, tokens and MACs are compared in constant time (timingSafeEqual, or protocol's
 * constantTimeEqual over their hashes), never with ===, !==, ==, != or Buffer#equals, whose time
 * depends on how many leading characters match. This check reads the shipped TypeScript of the
 * repository and names every such comparison whose operand is called like a secret. A comparison
 * with a literal, null, undefined or a typeof is a presence or type check and passes. A line
 * that compares something only named like a secret says so in a comment just above it:
 * `// constant-time: not a secret (why)`.
 */
const SECRET_NAME = /token|secret|csrf|password|passphrase|hmac|mac_?tag|api_?key|session_?id/i;
/** Names that carry a secret's word but hold no secret: when it was used, where it is kept. */
const NOT_SECRET_NAME = /(At|_at|File|Path|Label|Generation|Count|Length|Kind|Type|Name)$/;
/** The areas whose shipped code is checked (tests and test helpers are not shipped). */
const CHECKED_AREAS = ["protocol/", "agent/", "control-plane/", "verifier/", "components/"];
const WAIVER = /\/\/\s*constant-time:\s*not a secret/;

export interface TimingViolation {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

const isShipped = (file: string) =>
  CHECKED_AREAS.some((a) => file.startsWith(a)) &&
  !file.endsWith(".test.ts") &&
  !file.endsWith(".contract.ts") &&
  !/(^|\/)testing\//.test(file);

/** The name an operand is known by: an identifier, the last member of a property access. */
function nameOf(node: ts.Expression): string | undefined {
  const inner = ts.isParenthesizedExpression(node) ? node.expression : node;
  if (ts.isIdentifier(inner)) return inner.text;
  if (ts.isPropertyAccessExpression(inner)) return inner.name.text;
  if (ts.isElementAccessExpression(inner) && ts.isStringLiteral(inner.argumentExpression)) {
    return inner.argumentExpression.text;
  }
  if (ts.isCallExpression(inner)) return nameOf(inner.expression);
  return undefined;
}

const secretNamed = (node: ts.Expression) => {
  const name = nameOf(node);
  return name !== undefined && SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
};

/** null, undefined, a literal or a typeof: what a presence or type check compares with. */
function isPlainValue(node: ts.Expression): boolean {
  return (
    node.kind === ts.SyntaxKind.NullKeyword ||
    node.kind === ts.SyntaxKind.TrueKeyword ||
    node.kind === ts.SyntaxKind.FalseKeyword ||
    (ts.isIdentifier(node) && node.text === "undefined") ||
    ts.isStringLiteral(node) ||
    ts.isNoSubstitutionTemplateLiteral(node) ||
    ts.isNumericLiteral(node) ||
    ts.isTypeOfExpression(node) ||
    ts.isVoidExpression(node)
  );
}

const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);

export function findTimingViolations(files: ReadonlyMap<string, string>): TimingViolation[] {
  const found: TimingViolation[] = [];
  for (const [file, text] of files) {
    if (!isShipped(file)) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const lines = text.split("\n");
    const report = (node: ts.Node) => {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      if (WAIVER.test(lines[line - 1] ?? "") || WAIVER.test(lines[line] ?? "")) return;
      found.push({ file, line: line + 1, text: node.getText(source).slice(0, 120) });
    };
    const visit = (node: ts.Node) => {
      if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
        const { left, right } = node;
        if (
          !isPlainValue(left) &&
          !isPlainValue(right) &&
          (secretNamed(left) || secretNamed(right))
        ) {
          report(node);
        }
      }
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        node.expression.name.text === "equals" &&
        (secretNamed(node.expression.expression) ||
          node.arguments.some((a) => secretNamed(a as ts.Expression)))
      ) {
        report(node);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}
