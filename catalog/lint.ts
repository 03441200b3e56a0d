import { join } from "node:path";
import { formatProblem, lintCatalog, summarizeCatalog } from "./index.ts";

// npm run lint:catalog [-- <root>] [--today=YYYY-MM-DD]
// Exit codes: 0 clean, 1 problems found, 2 bad usage.
const USAGE = "usage: node catalog/lint.ts [catalog-root] [--today=YYYY-MM-DD]";

const args = process.argv.slice(2);
const todayArg = args.find((a) => a.startsWith("--today="))?.slice("--today=".length);
const positional = args.filter((a) => !a.startsWith("--"));
const unknown = args.filter((a) => a.startsWith("--") && !a.startsWith("--today="));

if (
  unknown.length > 0 ||
  positional.length > 1 ||
  (todayArg !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(todayArg))
) {
  console.error(USAGE);
  process.exitCode = 2;
} else {
  const root = positional[0] ?? join(import.meta.dirname, "..");
  const { catalog, problems } = await lintCatalog(
    root,
    todayArg === undefined ? {} : { today: todayArg },
  );
  if (catalog === undefined) {
    for (const problem of problems) console.error(formatProblem(problem));
    console.error(`catalog lint: ${problems.length} problem${problems.length === 1 ? "" : "s"}`);
    process.exitCode = 1;
  } else {
    const s = summarizeCatalog(catalog);
    console.log(
      `catalog lint: ok: ${s.toggles} toggles, ${s.runbooks} runbooks, ${s.controlsMapRows} controls-map rows ` +
        `(${s.coverage.covered} covered, ${s.coverage.partial} partial, ${s.coverage.out_of_scope} out of scope), ` +
        `${s.exceptionFiles} client exception file${s.exceptionFiles === 1 ? "" : "s"}`,
    );
  }
}
