/**
 * The one test command (`npm test`): unit tests beside the code, then the
 * conformance, store, integration and end-to-end suites. `npm test -- unit`
 * runs only the tiers named. PostgreSQL suites need the database at
 * AESP_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { spawnSync } from "node:child_process";
import { globSync } from "node:fs";

const tiers: Record<string, string[]> = {
  unit: ["packages/*/src/**/*.test.ts", "bench/lib/**/*.test.ts"],
  conformance: ["tests/conformance/**/*.test.ts"],
  stores: ["tests/stores/**/*.test.ts"],
  integration: ["tests/integration/**/*.test.ts"],
  e2e: ["tests/e2e/**/*.test.ts", "examples/**/*.test.ts"],
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const selected = wanted.length === 0 ? Object.keys(tiers) : wanted;
const unknown = selected.filter((t) => !(t in tiers));
if (unknown.length > 0) {
  console.error(`Unknown test tier(s): ${unknown.join(", ")}. Choose from: ${Object.keys(tiers).join(", ")}.`);
  process.exit(2);
}
const files = selected.flatMap((tier) => (tiers[tier] ?? []).flatMap((pattern) => globSync(pattern, { exclude: (f) => f.includes("node_modules") })));
if (files.length === 0) {
  console.error("No test files found.");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=2", "--test-timeout=120000", ...files.sort()], { stdio: "inherit" });
process.exit(result.status ?? 1);
