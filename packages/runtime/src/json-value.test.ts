import assert from "node:assert/strict";
import { test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { toProtoValue } from "./json-value.ts";

const roundTrip = (value: unknown) => toJson(ValueSchema, toProtoValue(value));

test("converts like JSON.stringify", () => {
  const input = {
    text: "a",
    n: 1.5,
    ok: true,
    none: null,
    skipped: undefined,
    fn: () => 1,
    list: [1, undefined, "x", Number.NaN, { deep: [Infinity] }],
    when: new Date(Date.UTC(2024, 0, 2)),
    custom: { toJSON: () => ({ replaced: true }) },
  };
  assert.deepEqual(roundTrip(input), JSON.parse(JSON.stringify(input)));
  assert.equal(roundTrip(undefined), null);
  assert.equal(roundTrip("plain"), "plain");
});

test("refuses what JSON cannot represent", () => {
  assert.throws(() => toProtoValue({ n: 1n }), TypeError);
  const cyclic: Record<string, unknown> = {};
  cyclic["self"] = cyclic;
  assert.throws(() => toProtoValue(cyclic), TypeError);
});

test("a shared (non-cyclic) reference is fine", () => {
  const shared = { a: 1 };
  assert.deepEqual(roundTrip([shared, shared]), [{ a: 1 }, { a: 1 }]);
});
