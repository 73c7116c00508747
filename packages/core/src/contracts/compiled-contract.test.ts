import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { AdmSchema, ToolContractDefinition } from "../records.ts";
import { CompiledContract } from "./compiled-contract.ts";
import { MAX_REPORTED_ISSUES } from "./issues.ts";

function definition(parameters: AdmSchema, returnType: AdmSchema | null = null): ToolContractDefinition {
  return {
    name: "test_tool",
    contractVersion: "1.0.0",
    description: "A tool used by the tests.",
    parameters,
    returnType,
    supportsStreaming: false,
    securityClassification: "internal",
    requiredRoles: [],
    requiredPermissions: [],
    complianceTags: [],
    riskAssessment: "LOW",
    governanceMetadata: {},
  };
}

function compileParameters(properties: Record<string, AdmSchema>, required: string[] = [], additionalProperties?: boolean): CompiledContract {
  return CompiledContract.compile(
    definition({ type: "OBJECT", properties, required, ...(additionalProperties === undefined ? {} : { additionalProperties }) }),
  );
}

function nestedObject(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < depth; level++) value = { n: value };
  return value;
}

void describe("CompiledContract: ADM value vectors", () => {
  const contract = compileParameters(
    {
      count: { type: "INTEGER" },
      enabled: { type: "BOOLEAN" },
      level: { type: "STRING", enum: ["low", "high"] },
      ratio: { type: "NUMBER" },
      items: { type: "ARRAY", items: { type: "STRING" } },
    },
    ["count"],
  );

  void it("accepts valid arguments", () => {
    assert.deepEqual(contract.validateArguments({ count: 3, enabled: true, level: "low", ratio: 0.5, items: [] }), []);
    assert.deepEqual(contract.validateArguments({ count: 2.0 }), []);
  });

  void it("rejects an INTEGER given 1.5", () => {
    assert.deepEqual(contract.validateArguments({ count: 1.5 }), [{ path: "/count", message: "must be integer" }]);
  });

  void it("rejects a BOOLEAN given the string \"true\" (no coercion)", () => {
    assert.deepEqual(contract.validateArguments({ count: 1, enabled: "true" }), [{ path: "/enabled", message: "must be boolean" }]);
    assert.deepEqual(contract.validateArguments({ count: "1" }), [{ path: "/count", message: "must be integer" }]);
  });

  void it("matches enums case-sensitively", () => {
    assert.deepEqual(contract.validateArguments({ count: 1, level: "LOW" }), [{ path: "/level", message: 'must be one of "low", "high"' }]);
    assert.deepEqual(contract.validateArguments({ count: 1, level: "high" }), []);
  });

  void it("reports a missing required property at its own path", () => {
    assert.deepEqual(contract.validateArguments({}), [{ path: "/count", message: "is required" }]);
  });

  void it("rejects undeclared properties by default, escaping the pointer", () => {
    assert.deepEqual(contract.validateArguments({ count: 1, extra: 1 }), [{ path: "/extra", message: "is not declared by the contract schema" }]);
    assert.deepEqual(contract.validateArguments({ count: 1, "a/b~c": 1 }), [{ path: "/a~1b~0c", message: "is not declared by the contract schema" }]);
  });

  void it("accepts undeclared properties when the schema allows them", () => {
    const open = compileParameters({ a: { type: "STRING" } }, [], true);
    assert.deepEqual(open.validateArguments({ a: "x", anything: { nested: [1, 2] } }), []);
  });

  void it("rejects arguments that are not an object", () => {
    assert.deepEqual(contract.validateArguments([1]), [{ path: "", message: "must be object" }]);
    assert.deepEqual(contract.validateArguments(null), [{ path: "", message: "must be object" }]);
  });

  void it("reports every issue at once (allErrors)", () => {
    const issues = contract.validateArguments({ enabled: 1, level: "mid", items: [1] });
    assert.deepEqual(
      issues.map((issue) => issue.path).sort(),
      ["/count", "/enabled", "/items/0", "/level"],
    );
  });
});

void describe("CompiledContract: plain JSON gate", () => {
  const open = compileParameters({}, [], true);

  void it("rejects __proto__, constructor and prototype keys at any depth", () => {
    const polluted = JSON.parse('{"__proto__": {"admin": true}}') as unknown;
    assert.deepEqual(open.validateArguments(polluted), [{ path: "/__proto__", message: 'key "__proto__" is not allowed' }]);
    const nested = JSON.parse('{"a": [{"b": {"constructor": {"prototype": 1}}}]}') as unknown;
    assert.deepEqual(open.validateArguments(nested), [{ path: "/a/0/b/constructor", message: 'key "constructor" is not allowed' }]);
    assert.deepEqual(open.validateArguments({ prototype: 1 }), [{ path: "/prototype", message: 'key "prototype" is not allowed' }]);
  });

  void it("accepts 32 levels of nesting and rejects 33", () => {
    assert.deepEqual(open.validateArguments(nestedObject(32)), []);
    const issues = open.validateArguments(nestedObject(33));
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, "/n".repeat(32));
    assert.match(issues[0]?.message ?? "", /deeper than 32/);
  });

  void it("survives cyclic values", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    assert.equal(open.validateArguments(cyclic).length, 1);
  });

  void it("rejects non-finite numbers and values JSON cannot carry", () => {
    const issues = open.validateArguments({ a: Number.NaN, b: Number.POSITIVE_INFINITY, c: undefined, d: () => 1, e: 1n, f: new Date(0), g: Symbol("s") });
    assert.deepEqual(issues, [
      { path: "/a", message: "must be a finite number" },
      { path: "/b", message: "must be a finite number" },
      { path: "/c", message: "is not a JSON value (undefined)" },
      { path: "/d", message: "is not a JSON value (function)" },
      { path: "/e", message: "is not a JSON value (bigint)" },
      { path: "/f", message: "is not a plain JSON object" },
      { path: "/g", message: "is not a JSON value (symbol)" },
    ]);
  });

  void it("accepts objects without a prototype", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    assert.deepEqual(open.validateArguments(bare), []);
  });
});

void describe("CompiledContract: bounds and results", () => {
  void it(`reports at most ${MAX_REPORTED_ISSUES} issues, saying how many were left out`, () => {
    const integer: AdmSchema = { type: "INTEGER" };
    const properties = Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`p${index}`, integer]));
    const contract = compileParameters(properties);
    const args = Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`p${index}`, "x"]));
    const issues = contract.validateArguments(args);
    assert.equal(issues.length, MAX_REPORTED_ISSUES);
    assert.match(issues.at(-1)?.message ?? "", /^\d+ more issues not shown$/);
    const gateIssues = contract.validateArguments(Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`p${index}`, Number.NaN])));
    assert.equal(gateIssues.length, MAX_REPORTED_ISSUES);
    assert.equal(gateIssues.at(-1)?.message, "11 more issues not shown");
  });

  void it("accepts any JSON result when the contract has no return type", () => {
    const contract = CompiledContract.compile(definition({ type: "OBJECT", properties: {} }, null));
    assert.equal(contract.resultSchema, null);
    for (const content of [null, "text", 42, [1, "a"], { any: { thing: true } }]) assert.deepEqual(contract.validateResult(content), []);
    assert.deepEqual(contract.validateResult({ x: Number.NaN }), [{ path: "/x", message: "must be a finite number" }]);
  });

  void it("validates results against the return type", () => {
    const contract = CompiledContract.compile(
      definition(
        { type: "OBJECT", properties: {} },
        { type: "OBJECT", properties: { temperature: { type: "NUMBER" }, note: { type: "STRING", nullable: true } }, required: ["temperature"] },
      ),
    );
    assert.deepEqual(contract.validateResult({ temperature: 21.5, note: null }), []);
    assert.deepEqual(contract.validateResult({ temperature: "hot" }), [{ path: "/temperature", message: "must be number" }]);
    assert.deepEqual(contract.validateResult({ temperature: 1, leaked: "internal" }), [{ path: "/leaked", message: "is not declared by the contract schema" }]);
  });

  void it("enforces formats, patterns and ranges", () => {
    const contract = compileParameters({
      email: { type: "STRING", format: "email" },
      code: { type: "STRING", pattern: "^[A-Z]{3}$" },
      size: { type: "INTEGER", minimum: 1, maximum: 10 },
      tags: { type: "ARRAY", items: { type: "STRING" }, maxItems: 2 },
    });
    assert.deepEqual(contract.validateArguments({ email: "a@example.com", code: "EUR", size: 10, tags: ["a"] }), []);
    assert.deepEqual(
      contract.validateArguments({ email: "not-an-email", code: "eur", size: 11, tags: ["a", "b", "c"] }).map((issue) => issue.path),
      ["/email", "/code", "/size", "/tags"],
    );
  });
});

void describe("CompiledContract.compile", () => {
  void it("refuses an invalid definition with INVALID_ARGUMENT", () => {
    assert.throws(
      () => CompiledContract.compile(definition({ type: "OBJECT", properties: { a: { type: "ARRAY" } } })),
      (error: unknown) => error instanceof EnterpriseError && error.code === "INVALID_ARGUMENT" && error.details["field"] === "/parameters/properties/a/items",
    );
  });

  void it("keeps a frozen copy, so later changes to the input cannot alter the contract", () => {
    const input = definition({ type: "OBJECT", properties: { a: { type: "STRING" } } });
    const contract = CompiledContract.compile(input);
    input.parameters.properties = { a: { type: "INTEGER" } };
    assert.deepEqual(contract.validateArguments({ a: "text" }), []);
    assert.equal(contract.contractId, "test_tool@1.0.0");
    assert.ok(Object.isFrozen(contract.definition.parameters));
    assert.throws(() => {
      contract.definition.requiredRoles.push("admin");
    }, TypeError);
  });

  void it("never modifies the arguments it validates", () => {
    const contract = compileParameters({ a: { type: "INTEGER" } });
    const args = { a: "5", b: 1 };
    contract.validateArguments(args);
    assert.deepEqual(args, { a: "5", b: 1 });
  });
});
