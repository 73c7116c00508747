/**
 * The CEL conformance suite of `@bufbuild/cel-spec`, run through @bufbuild/cel
 * as the policy engine configures it. Every test runs; those named in
 * cel-spec/skips.ts are reported as skipped, every other one must pass.
 *
 * Prints a summary (pass rate, per-file table, skip entries with counts, and
 * skipped tests that now pass) after the tests have run.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ConformanceRunner, loadConformanceFiles, packageVersion, type CaseOutcome, type ConformanceCase } from "./cel-spec/harness.ts";
import { findSkip, skipLabel, SKIPS, type SkipEntry } from "./cel-spec/skips.ts";

interface CaseResult {
  readonly testCase: ConformanceCase;
  readonly outcome: CaseOutcome;
  readonly skip: SkipEntry | undefined;
}

const specVersion = packageVersion("@bufbuild/cel-spec", "@bufbuild/cel-spec/testdata/tests.js");
const celVersion = packageVersion("@bufbuild/cel", "@bufbuild/cel");

// Everything is evaluated up front (a few hundred ms) because the summary also
// covers skipped tests, whose bodies node:test never runs.
const runner = new ConformanceRunner();
const files = loadConformanceFiles().map((file) => ({
  name: file.name,
  sections: file.sections.map((section) => ({
    name: section.name,
    results: section.cases.map((testCase): CaseResult => ({ testCase, outcome: runner.run(testCase), skip: findSkip(testCase.path) })),
  })),
}));
const allResults = files.flatMap((file) => file.sections.flatMap((section) => section.results));

describe(`CEL conformance (@bufbuild/cel-spec ${specVersion}, @bufbuild/cel ${celVersion})`, () => {
  test("the suite is loaded", () => {
    assert.ok(files.length > 0 && allResults.length > 0, "the conformance suite is empty");
  });

  test("every skip entry names tests that no earlier entry already skips", () => {
    const stale = SKIPS.flatMap((entry) => {
      const covered = allResults.filter((result) => result.skip === entry);
      if (entry.tests === undefined) return covered.length === 0 ? [skipLabel(entry)] : [];
      return entry.tests.filter((name) => !covered.some((result) => result.testCase.path[2] === name)).map((name) => `${entry.path.join("/")}/${name}`);
    });
    assert.deepEqual(stale, [], `skip entries matching no test (remove them or fix the path): ${stale.join(", ")}`);
  });

  for (const file of files) {
    describe(file.name, () => {
      for (const section of file.sections) {
        describe(section.name, () => {
          for (const { testCase, outcome, skip } of section.results) {
            const name = testCase.path[2] ?? testCase.test.name;
            if (skip !== undefined) {
              test(name, { skip: skip.reason }, () => {});
              continue;
            }
            test(name, () => {
              if (!outcome.passed) assert.fail(`${testCase.path.join("/")}: ${testCase.test.original.expr}\n${outcome.detail}`);
            });
          }
        });
      }
    });
  }

  after(() => {
    console.log(summarize().join("\n"));
  });
});

function summarize(): string[] {
  const passed = allResults.filter((result) => result.skip === undefined && result.outcome.passed).length;
  const skipped = allResults.filter((result) => result.skip !== undefined);
  const failed = allResults.length - passed - skipped.length;
  const lines = [
    `CEL conformance (@bufbuild/cel-spec ${specVersion}, @bufbuild/cel ${celVersion}): ${passed}/${allResults.length} passed (${percent(passed, allResults.length)}), ` +
      `${failed} failed, ${skipped.length} skipped in ${SKIPS.length} skip entries`,
    "",
    table(
      ["file", "tests", "passed", "skipped", "failed"],
      files.map((file) => {
        const results = file.sections.flatMap((section) => section.results);
        const filePassed = results.filter((result) => result.skip === undefined && result.outcome.passed).length;
        const fileSkipped = results.filter((result) => result.skip !== undefined).length;
        return [file.name, results.length, filePassed, fileSkipped, results.length - filePassed - fileSkipped].map(String);
      }),
    ),
    "",
    "Skip entries (tests skipped; of those, how many pass anyway):",
  ];
  for (const entry of SKIPS) {
    const covered = skipped.filter((result) => result.skip === entry);
    const vacuous = covered.filter((result) => result.outcome.passed && result.outcome.byMissingFunction).length;
    const genuine = covered.filter((result) => result.outcome.passed && !result.outcome.byMissingFunction).length;
    const notes = [
      ...(genuine > 0 ? [`${genuine} pass`] : []),
      ...(vacuous > 0 ? [`${vacuous} pass only because the error they expect is "unbound function"`] : []),
    ];
    const passing = notes.length === 0 ? "" : ` (${notes.join("; ")})`;
    lines.push(`  ${skipLabel(entry)}: ${covered.length}${passing} - ${entry.reason}`);
  }
  const failures = allResults.filter((result) => result.skip === undefined && !result.outcome.passed);
  if (failures.length > 0) {
    lines.push("", `Failed (${failures.length}; fix the regression, or skip with a reason in tests/conformance/cel-spec/skips.ts):`);
    for (const result of failures) lines.push(`  ${result.testCase.path.join("/")}`);
  }
  const run = allResults.filter((result) => result.skip === undefined);
  const typedOnlyByValue = run.filter((result) => result.testCase.test.original.resultMatcher.case === "typedResult").length;
  const unbound = run.filter((result) => result.outcome.passed && result.outcome.byMissingFunction).map((result) => result.testCase.path.join("/"));
  lines.push(
    "",
    `Notes: ${typedOnlyByValue} typedResult tests are judged on their value only (the deduced type needs the type checker); ` +
      `tests run that pass with an "unbound function" error: ${unbound.length === 0 ? "none" : unbound.join(", ")}.`,
  );
  const nowPassing = skipped.filter((result) => result.outcome.passed && !result.outcome.byMissingFunction);
  lines.push("");
  if (nowPassing.length === 0) {
    lines.push("Skipped tests that pass: none.");
  } else {
    lines.push(`Skipped tests that pass (${nowPassing.length}; narrow their entries in tests/conformance/cel-spec/skips.ts):`);
    for (const result of nowPassing) lines.push(`  ${result.testCase.path.join("/")}`);
  }
  return lines;
}

function percent(part: number, whole: number): string {
  return `${whole === 0 ? "0.0" : ((100 * part) / whole).toFixed(1)} %`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const render = (row: readonly string[]): string =>
    row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join("  ").trimEnd();
  return [header, ...rows].map((row) => `  ${render(row)}`).join("\n");
}
