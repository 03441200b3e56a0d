import { existsSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { isCodedError } from "#protocol";
import { ComponentArgsError } from "../errors.ts";
import {
  type Answers,
  checkAnswer,
  FIELDS,
  nextCommands,
  normaliseMac,
  renderStackFile,
} from "./stack-file.ts";

/**
 * `npm run new-client -- [--name ... --slug ... --mac ... --zone ... --zone-id ...]`: writes
 * stacks/Pulumi.<slug>.yaml for a new client and prints the exact next commands. A flag that
 * is missing is asked for on stdin; a bad flag exits 2 naming it. Never overwrites a stack.
 * Exit codes: 0 written, 1 refused (the stack exists), 2 usage or invalid answer.
 */
const FLAGS = {
  name: "name",
  slug: "slug",
  macs: "mac",
  zone: "zone",
  zoneId: "zone-id",
  centralStack: "central-stack",
  applianceId: "appliance-id",
  awsRegion: "aws-region",
} as const satisfies Record<keyof Answers, string>;
const ORDER = Object.keys(FLAGS) as (keyof Answers)[];

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: "string" },
      slug: { type: "string" },
      mac: { type: "string", multiple: true },
      zone: { type: "string" },
      "zone-id": { type: "string" },
      "central-stack": { type: "string" },
      "appliance-id": { type: "string" },
      "aws-region": { type: "string" },
      "stacks-dir": { type: "string" },
      "no-input": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run new-client -- --name NAME --slug SLUG --mac MAC [--mac MAC] --zone ZONE --zone-id ID\n       [--central-stack ORG/PROJECT/STACK] [--appliance-id ID] [--aws-region REGION] [--no-input]\n`,
    );
    return 0;
  }
  const given: Partial<Record<keyof Answers, unknown>> = {
    name: values.name,
    slug: values.slug,
    macs: values.mac?.flatMap((m) => m.split(",")).map(normaliseMac),
    zone: values.zone,
    zoneId: values["zone-id"],
    centralStack: values["central-stack"],
    applianceId: values["appliance-id"],
    awsRegion: values["aws-region"],
  };
  for (const key of ORDER) {
    if (given[key] === undefined) continue;
    const problem = checkAnswer(key, given[key]);
    if (problem) throw new ComponentArgsError("usage", `--${FLAGS[key]}: ${problem}`);
  }

  const lines = createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
  const ask = async (key: keyof Answers): Promise<unknown> => {
    const field = FIELDS[key];
    const fallback = "default" in field ? field.default : undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      process.stderr.write(`${field.question}${fallback ? ` [${fallback}]` : ""}: `);
      const next = await lines.next();
      if (next.done)
        throw new ComponentArgsError(
          "usage",
          `--${FLAGS[key]} is missing (stdin ended before an answer)`,
        );
      const text = String(next.value).trim() || fallback || "";
      const value = key === "macs" ? text.split(",").filter(Boolean).map(normaliseMac) : text;
      const problem = checkAnswer(key, value);
      if (!problem) return value;
      process.stderr.write(`  ${problem}\n`);
    }
    throw new ComponentArgsError("usage", `--${FLAGS[key]}: no valid answer after three tries`);
  };
  const answers: Record<string, unknown> = {};
  for (const key of ORDER) {
    const field = FIELDS[key];
    if (given[key] !== undefined) answers[key] = given[key];
    else if (values["no-input"] && "default" in field) answers[key] = field.default;
    else if (values["no-input"])
      throw new ComponentArgsError("usage", `--${FLAGS[key]} is missing`);
    else answers[key] = await ask(key);
  }
  const a = answers as unknown as Answers;

  const dir = resolve(values["stacks-dir"] ?? join(import.meta.dirname, "..", "..", "stacks"));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ComponentArgsError(
      "usage",
      `--stacks-dir: ${dir} is not a folder; create it first or point at the repository's stacks/`,
    );
  }
  const file = join(dir, `Pulumi.${a.slug}.yaml`);
  const shown = relative(process.cwd(), file) || file;
  if (existsSync(file)) {
    process.stderr.write(
      `${shown} exists: a stack is never overwritten; pick another --slug or edit it with pulumi config set\n`,
    );
    return 1;
  }
  const text = renderStackFile(a);
  writeFileSync(file, text, { flag: "wx" });
  process.stdout.write(
    `wrote ${shown}\n\nnext:\n${nextCommands(a, shown)
      .map((c) => `  ${c}`)
      .join("\n")}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage =
      isCodedError(error, "usage") ||
      (error instanceof Error &&
        "code" in error &&
        String(error.code).startsWith("ERR_PARSE_ARGS"));
    process.stderr.write(`new-client: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
