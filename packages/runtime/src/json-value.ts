import { create } from "@bufbuild/protobuf";
import { ListValueSchema, NullValue, StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Value } from "@bufbuild/protobuf/wkt";

/**
 * Converts what a handler returned or emitted to google.protobuf.Value with `JSON.stringify`
 * semantics: `toJSON()` is honoured (Dates become ISO strings), undefined / function / symbol members
 * are omitted (null inside arrays), non-finite numbers become null.
 *
 * @throws TypeError for a BigInt or a cyclic structure, which JSON cannot represent.
 */
export function toProtoValue(input: unknown): Value {
  return convert(input, new Set());
}

function convert(input: unknown, ancestors: Set<object>): Value {
  let value = input;
  if (typeof value === "object" && value !== null && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value } });
    case "number":
      return Number.isFinite(value) ? create(ValueSchema, { kind: { case: "numberValue", value } }) : nullValue();
    case "boolean":
      return create(ValueSchema, { kind: { case: "boolValue", value } });
    case "bigint":
      throw new TypeError("A BigInt cannot be represented as JSON.");
    case "undefined":
    case "function":
    case "symbol":
      return nullValue();
    case "object":
      break;
  }
  if (value === null) return nullValue();
  const object = value;
  if (ancestors.has(object)) throw new TypeError("A cyclic structure cannot be represented as JSON.");
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      const values = (object as unknown[]).map((element) => convert(element, ancestors));
      return create(ValueSchema, { kind: { case: "listValue", value: create(ListValueSchema, { values }) } });
    }
    const fields: Record<string, Value> = {};
    for (const [key, member] of Object.entries(object)) {
      if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
      fields[key] = convert(member, ancestors);
    }
    return create(ValueSchema, { kind: { case: "structValue", value: create(StructSchema, { fields }) } });
  } finally {
    ancestors.delete(object);
  }
}

function nullValue(): Value {
  return create(ValueSchema, { kind: { case: "nullValue", value: NullValue.NULL_VALUE } });
}
