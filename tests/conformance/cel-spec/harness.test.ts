/**
 * Checks on the conformance harness itself: a comparison that is too lenient
 * would let the suite pass whatever @bufbuild/cel returns, so these cases pin
 * that wrong answers are caught.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { SimpleTestSchema } from "@bufbuild/cel-spec/cel/expr/conformance/test/simple_pb.js";
import { TestAllTypesSchema } from "@bufbuild/cel-spec/cel/expr/conformance/proto3/test_all_types_pb.js";
import { ValueSchema, type Value } from "@bufbuild/cel-spec/cel/expr/value_pb.js";
import { getTestRegistry } from "@bufbuild/cel-spec/testdata/registry.js";
import { ConformanceRunner, type ConformanceCase } from "./harness.ts";
import { findSkip, skipLabel, type SkipEntry } from "./skips.ts";
import { sameValue } from "./values.ts";

const registry = getTestRegistry();
const runner = new ConformanceRunner();

function value(init: MessageInitShape<typeof ValueSchema>): Value {
  return create(ValueSchema, init);
}

function conformanceCase(init: MessageInitShape<typeof SimpleTestSchema>): ConformanceCase {
  const original = create(SimpleTestSchema, init);
  return { path: ["harness", "self_check", original.name], test: { name: original.name, original } };
}

const int1 = value({ kind: { case: "int64Value", value: 1n } });
const uint1 = value({ kind: { case: "uint64Value", value: 1n } });
const double1 = value({ kind: { case: "doubleValue", value: 1 } });

describe("cel-spec conformance harness", () => {
  test("int, uint and double are different answers even where CEL calls them equal", () => {
    assert.equal(sameValue(int1, int1, registry), true);
    assert.equal(sameValue(int1, uint1, registry), false);
    assert.equal(sameValue(int1, double1, registry), false);
    assert.equal(sameValue(uint1, double1, registry), false);
  });

  test("doubles: NaN matches NaN, -0 does not match 0", () => {
    const nan = value({ kind: { case: "doubleValue", value: Number.NaN } });
    assert.equal(sameValue(nan, nan, registry), true);
    assert.equal(sameValue(value({ kind: { case: "doubleValue", value: -0 } }), value({ kind: { case: "doubleValue", value: 0 } }), registry), false);
  });

  test("bytes compare byte by byte", () => {
    const bytes = (data: number[]): Value => value({ kind: { case: "bytesValue", value: new Uint8Array(data) } });
    assert.equal(sameValue(bytes([1, 2]), bytes([1, 2]), registry), true);
    assert.equal(sameValue(bytes([1, 2]), bytes([1, 3]), registry), false);
    assert.equal(sameValue(bytes([1, 2]), bytes([1, 2, 0]), registry), false);
  });

  test("maps ignore entry order but not key kinds", () => {
    const entry = (key: Value, entryValue: Value) => ({ key, value: entryValue });
    const a = value({ kind: { case: "mapValue", value: { entries: [entry(int1, double1), entry(uint1, int1)] } } });
    const b = value({ kind: { case: "mapValue", value: { entries: [entry(uint1, int1), entry(int1, double1)] } } });
    const c = value({ kind: { case: "mapValue", value: { entries: [entry(int1, double1), entry(int1, int1)] } } });
    assert.equal(sameValue(a, b, registry), true);
    assert.equal(sameValue(a, c, registry), false);
  });

  test("lists are ordered", () => {
    const list = (...values: Value[]): Value => value({ kind: { case: "listValue", value: { values } } });
    assert.equal(sameValue(list(int1, uint1), list(int1, uint1), registry), true);
    assert.equal(sameValue(list(int1, uint1), list(uint1, int1), registry), false);
  });

  test("messages compare by content", () => {
    const message = (singleInt32: number): Value =>
      value({ kind: { case: "objectValue", value: anyPack(TestAllTypesSchema, create(TestAllTypesSchema, { singleInt32 })) } });
    assert.equal(sameValue(message(1), message(1), registry), true);
    assert.equal(sameValue(message(1), message(2), registry), false);
  });

  test("a case passes only with the expected value", () => {
    const expectInt1 = { case: "value", value: int1 } as const;
    assert.deepEqual(runner.run(conformanceCase({ name: "right", expr: "2 - 1", resultMatcher: expectInt1 })), { passed: true, byMissingFunction: false });
    assert.equal(runner.run(conformanceCase({ name: "uint", expr: "1u", resultMatcher: expectInt1 })).passed, false);
    assert.equal(runner.run(conformanceCase({ name: "error", expr: "1 / 0", resultMatcher: expectInt1 })).passed, false);
    assert.equal(runner.run(conformanceCase({ name: "syntax", expr: "1 +", resultMatcher: expectInt1 })).passed, false);
  });

  test("an expected error needs an error; a missing function is told apart", () => {
    const expectError = { case: "evalError", value: {} } as const;
    assert.deepEqual(runner.run(conformanceCase({ name: "div", expr: "1 / 0", resultMatcher: expectError })), { passed: true, byMissingFunction: false });
    assert.deepEqual(runner.run(conformanceCase({ name: "missing", expr: "no_such_fn(1)", resultMatcher: expectError })), { passed: true, byMissingFunction: true });
    assert.equal(runner.run(conformanceCase({ name: "value", expr: "1", resultMatcher: expectError })).passed, false);
  });

  test("no matcher means the result must be true; bindings and containers are applied", () => {
    const message = anyPack(TestAllTypesSchema, create(TestAllTypesSchema, { singleInt64: 7n }));
    const bindings = {
      x: { kind: { case: "value", value: { kind: { case: "objectValue", value: message } } } },
      u: { kind: { case: "value", value: { kind: { case: "uint64Value", value: 3n } } } },
    } as const;
    const passing = { name: "bound", expr: "x.single_int64 == 7 && type(u) == uint && TestAllTypes{}.single_int64 == 0", container: "cel.expr.conformance.proto3", bindings };
    assert.equal(runner.run(conformanceCase(passing)).passed, true);
    assert.equal(runner.run(conformanceCase({ ...passing, expr: "x.single_int64 == 8" })).passed, false);
    assert.equal(runner.run(conformanceCase({ ...passing, container: "" })).passed, false);
  });

  test("skip entries match by path prefix and by test name", () => {
    const section: SkipEntry = { path: ["f", "s"], reason: "r" };
    const named: SkipEntry = { path: ["f", "t"], tests: ["a"], reason: "r" };
    assert.equal(findSkip(["f", "s", "x"], [section, named]), section);
    assert.equal(findSkip(["f", "t", "a"], [section, named]), named);
    assert.equal(findSkip(["f", "t", "b"], [section, named]), undefined);
    assert.equal(findSkip(["f", "st", "x"], [section, named]), undefined);
    assert.equal(skipLabel(named), "f/t/a");
  });
});
