import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { z } from "zod";
import { Baseline } from "./baseline-schema.ts";
import { type ControlsMapRow, readControlsMap } from "./controls-map.ts";
import type { Problem } from "./errors.ts";
import { ClientExceptions } from "./exceptions-schema.ts";
import { QualificationSet } from "./qualification-schema.ts";
import { Runbook } from "./runbook-schema.ts";
import { issueProblems, problemAt, type Source } from "./source.ts";
import { readYaml } from "./yaml-source.ts";

/** Where the catalog lives, relative to the repository root (docs/architecture.md, layers). */
export const CATALOG_PATHS = {
  baseline: "baseline/hipaa-v1.yaml",
  controlsMap: "baseline/controls-map.csv",
  exceptions: "baseline/exceptions",
  runbooks: "runbooks",
  qualification: "qualification/incidents.yaml",
} as const;

export interface Parsed<T> {
  readonly source: Source;
  readonly value: T;
}

/** Phase one: every file on its own (syntax and schema). Cross-references come after. */
export interface CatalogFiles {
  readonly baseline: Parsed<Baseline> | undefined;
  readonly controlsMap: Parsed<readonly ControlsMapRow[]> | undefined;
  readonly runbooks: readonly Parsed<Runbook>[];
  readonly exceptions: readonly Parsed<ClientExceptions>[];
  /** Optional: a catalog without it has no model qualification set. */
  readonly qualification: Parsed<QualificationSet> | undefined;
  readonly problems: readonly Problem[];
}

export async function readCatalogFiles(root: string): Promise<CatalogFiles> {
  const problems: Problem[] = [];
  const text = async (file: string): Promise<string | undefined> => {
    try {
      return await readFile(join(root, file), "utf8");
    } catch (error) {
      const message = `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
      problems.push({ code: "unreadable", file, line: 0, column: 0, field: "", message });
      return undefined;
    }
  };
  const yamlFile = async <S extends z.ZodType>(file: string, schema: S) => {
    const content = await text(file);
    if (content === undefined) return undefined;
    const yaml = readYaml(file, content);
    problems.push(...yaml.problems);
    if (yaml.data === undefined) return undefined;
    const result = schema.safeParse(yaml.data);
    if (!result.success) {
      problems.push(...issueProblems(yaml.source, result.error.issues));
      return undefined;
    }
    return { source: yaml.source, value: result.data as z.infer<S> };
  };
  const yamlDir = async (dir: string): Promise<string[]> => {
    let names: string[];
    try {
      names = (await readdir(join(root, dir))).sort();
    } catch (error) {
      const message = `cannot list: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
      problems.push({ code: "unreadable", file: dir, line: 0, column: 0, field: "", message });
      return [];
    }
    for (const name of names.filter((n) => n.endsWith(".yml"))) {
      const file = `${dir}/${name}`;
      const message = "is ignored: catalog files end in .yaml";
      problems.push({ code: "filename_mismatch", file, line: 0, column: 0, field: "", message });
    }
    return names.filter((n) => n.endsWith(".yaml")).map((n) => `${dir}/${n}`);
  };

  const baseline = await yamlFile(CATALOG_PATHS.baseline, Baseline);
  let controlsMap: Parsed<readonly ControlsMapRow[]> | undefined;
  const csv = await text(CATALOG_PATHS.controlsMap);
  if (csv !== undefined) {
    const map = readControlsMap(CATALOG_PATHS.controlsMap, csv);
    problems.push(...map.problems);
    if (map.rows !== undefined) controlsMap = { source: map.source, value: map.rows };
  }

  const runbooks: Parsed<Runbook>[] = [];
  for (const file of await yamlDir(CATALOG_PATHS.runbooks)) {
    const runbook = await yamlFile(file, Runbook);
    if (runbook === undefined) continue;
    if (`${runbook.value.id}.yaml` !== basename(file)) {
      const message = `holds ${runbook.value.id}, so it must be named ${runbook.value.id}.yaml`;
      problems.push(problemAt(runbook.source, ["id"], "filename_mismatch", message));
    }
    runbooks.push(runbook);
  }

  const exceptions: Parsed<ClientExceptions>[] = [];
  for (const file of await yamlDir(CATALOG_PATHS.exceptions)) {
    const client = await yamlFile(file, ClientExceptions);
    if (client === undefined) continue;
    if (`${client.value.client}.yaml` !== basename(file)) {
      const message = `is for client ${client.value.client}, so it must be named ${client.value.client}.yaml`;
      problems.push(problemAt(client.source, ["client"], "filename_mismatch", message));
    }
    exceptions.push(client);
  }

  const qualification = existsSync(join(root, CATALOG_PATHS.qualification))
    ? await yamlFile(CATALOG_PATHS.qualification, QualificationSet)
    : undefined;

  return { baseline, controlsMap, runbooks, exceptions, qualification, problems };
}
