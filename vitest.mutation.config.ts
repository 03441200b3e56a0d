import { defineConfig } from "vitest/config";

/**
 * The vitest config StrykerJS runs each area's tests with (scripts/mutation.ts): only the test
 * files the area names (MUTATION_TESTS, comma-separated globs), so a mutant is tried against the
 * tests meant to catch it and not the whole suite.
 */
export default defineConfig({
  test: {
    include: (process.env.MUTATION_TESTS ?? "").split(",").filter((g) => g !== ""),
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
  },
});
