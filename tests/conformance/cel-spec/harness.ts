/**
 * Runs the CEL conformance suite of `@bufbuild/cel-spec` through @bufbuild/cel
 * the way the policy engine uses it (packages/core/src/policy/compile.ts):
 * `parse`, then `plan` against a `celEnv` with the engine's functions (the standard library, the strings extension and the Host's library), then
 * one evaluation. Each case brings its own container and bindings; the
 * message types come from the suite's test registry.
 *
 * The runner follows the upstream simple-test runner: a parse failure fails a
 * case even when an evaluation error is expected. Nothing is type-checked (the
 * engine does not check either), so `disableCheck` changes nothing and
 * `typeEnv` declarations are not needed.
 */
import { readFileSync } from "node:fs";
import type { Registry } from "@bufbuild/protobuf";
import { policyCelFunctions } from "../../../packages/core/src/policy/functions.ts";
import { celEnv, celError, isCelError, parse, plan, type CelEnv, type CelInput, type CelResult } from "@bufbuild/cel";
import type { SimpleTest } from "@bufbuild/cel-spec/cel/expr/conformance/test/simple_pb.js";
import { getTestRegistry } from "@bufbuild/cel-spec/testdata/registry.js";
import { getConformanceSuite, type IncrementalTest, type IncrementalTestSuite } from "@bufbuild/cel-spec/testdata/tests.js";
import { fromCelValue, sameValue, showValue, toCelInput } from "./values.ts";

/** One test of the suite, with its place in the tree: `[file, section, test]`. */
export interface ConformanceCase {
  readonly path: readonly string[];
  readonly test: IncrementalTest;
}

/**
 * What running one case produced. `byMissingFunction` marks a pass where an
 * error was expected and the error was "unbound function": a pass that says
 * nothing when the function under test does not exist at all.
 */
export type CaseOutcome = { readonly passed: true; readonly byMissingFunction: boolean } | { readonly passed: false; readonly detail: string };

/** A file of the suite (e.g. `proto3`) and its sections, in suite order. */
export interface ConformanceFile {
  readonly name: string;
  readonly sections: readonly { readonly name: string; readonly cases: readonly ConformanceCase[] }[];
}

/**
 * Reads the suite into files and sections.
 *
 * @returns The files of the suite, in suite order.
 * @throws Error if the tree is not files → sections → tests, since every
 *   skip path and report line assumes that shape.
 */
export function loadConformanceFiles(): ConformanceFile[] {
  const root = getConformanceSuite();
  if (root.tests.length > 0) throw new Error("conformance suite has tests outside any file");
  return root.suites.map((file) => {
    if (file.tests.length > 0) throw new Error(`conformance file ${file.name} has tests outside any section`);
    return {
      name: file.name,
      sections: file.suites.map((section) => ({ name: section.name, cases: sectionCases(file.name, section) })),
    };
  });
}

function sectionCases(fileName: string, section: IncrementalTestSuite): ConformanceCase[] {
  if (section.suites.length > 0) throw new Error(`conformance section ${fileName}/${section.name} is nested deeper than expected`);
  return section.tests.map((test) => ({ path: [fileName, section.name, test.name], test }));
}

/**
 * Reads the version of an installed package, so the report names what was measured.
 *
 * @param name - The package, e.g. `@bufbuild/cel-spec`.
 * @param entry - A module specifier inside it that the package exports.
 * @returns The `version` of its package.json.
 * @throws Error when no package.json of that name is found above the entry.
 */
export function packageVersion(name: string, entry: string): string {
  let directory = new URL(".", import.meta.resolve(entry));
  for (;;) {
    const manifest = readManifest(new URL("package.json", directory));
    if (manifest?.name === name && typeof manifest.version === "string") return manifest.version;
    const parent = new URL("..", directory);
    if (parent.href === directory.href) throw new Error(`no package.json of ${name} above ${entry}`);
    directory = parent;
  }
}

function readManifest(url: URL): { name?: unknown; version?: unknown } | undefined {
  let text: string;
  try {
    text = readFileSync(url, "utf8");
  } catch {
    return undefined;
  }
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === "object" && parsed !== null ? parsed : undefined;
}

/**
 * Runs cases against one shared test registry, keeping one environment per
 * container because building the registry of an environment is the costly part.
 */
export class ConformanceRunner {
  readonly #registry: Registry = getTestRegistry();
  readonly #environments = new Map<string, CelEnv>();

  /**
   * Runs one case. Never throws: harness problems (an unrepresentable binding
   * or result) are failures of the case.
   *
   * @param testCase - The case.
   * @returns Whether the evaluator produced what the suite expects, with the difference if not.
   */
  run(testCase: ConformanceCase): CaseOutcome {
    try {
      return this.#run(testCase.test.original);
    } catch (error) {
      return fail(`harness: ${messageOf(error)}`);
    }
  }

  #run(test: SimpleTest): CaseOutcome {
    if (test.checkOnly) return fail("check-only case: needs the type checker, which @bufbuild/cel 0.6.1 does not export");
    if (test.disableMacros) return fail("case disables macros: @bufbuild/cel 0.6.1 parse() has no such option");
    const matcher = test.resultMatcher;
    if (matcher.case === "unknown" || matcher.case === "anyUnknowns") return fail("case expects unknowns: @bufbuild/cel 0.6.1 has no partial evaluation");
    if (matcher.case === "typedResult" && matcher.value.result === undefined) return fail("case expects only a deduced type: needs the type checker");

    const bindings: Record<string, CelInput> = {};
    for (const [name, binding] of Object.entries(test.bindings)) {
      if (binding.kind.case !== "value") return fail(`binding ${name} is ${String(binding.kind.case)}, not a value`);
      bindings[name] = toCelInput(binding.kind.value, this.#registry);
    }

    let program: ReturnType<typeof plan>;
    try {
      program = plan(this.#environment(test.container), parse(test.expr));
    } catch (error) {
      return fail(`parse/plan error: ${messageOf(error)}`);
    }
    let result: CelResult;
    try {
      result = program(bindings);
    } catch (error) {
      // The policy engine turns a thrown evaluation into an error outcome, so it counts as one here.
      result = celError(error);
    }

    switch (matcher.case) {
      case undefined:
        return result === true ? PASSED : fail(`expected true, got ${this.#show(result)}`);
      case "evalError":
      case "anyEvalErrors":
        if (!isCelError(result)) return fail(`expected an evaluation error, got ${this.#show(result)}`);
        return UNBOUND_FUNCTION.test(result.message) ? PASSED_BY_MISSING_FUNCTION : PASSED;
      case "value":
      case "typedResult": {
        // typedResult: the value is compared; the deduced type is not, for want of an exported checker.
        const expected = matcher.case === "value" ? matcher.value : matcher.value.result;
        if (expected === undefined) return fail("case has no expected value");
        if (isCelError(result)) return fail(`expected ${showValue(expected, this.#registry)}, got error: ${result.message}`);
        const actual = fromCelValue(result);
        return sameValue(expected, actual, this.#registry)
          ? PASSED
          : fail(`expected ${showValue(expected, this.#registry)}, got ${showValue(actual, this.#registry)}`);
      }
    }
  }

  #environment(container: string): CelEnv {
    let environment = this.#environments.get(container);
    if (environment === undefined) {
      // Same functions as the policy engine's environment (strings extension and the Host's library), default RE2; only registry and container differ.
      environment = celEnv({ registry: this.#registry, namespace: container, funcs: [...policyCelFunctions] });
      this.#environments.set(container, environment);
    }
    return environment;
  }

  #show(result: CelResult): string {
    if (isCelError(result)) return `error: ${result.message}`;
    try {
      return showValue(fromCelValue(result), this.#registry);
    } catch (error) {
      return messageOf(error);
    }
  }
}

const PASSED: CaseOutcome = Object.freeze({ passed: true, byMissingFunction: false });
const PASSED_BY_MISSING_FUNCTION: CaseOutcome = Object.freeze({ passed: true, byMissingFunction: true });
// The message @bufbuild/cel 0.6.1 gives when a call names no known function (planner.js).
const UNBOUND_FUNCTION = /^unbound function: /;

function fail(detail: string): CaseOutcome {
  return { passed: false, detail };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
