/**
 * Conversions between the conformance suite's `cel.expr.Value` messages and
 * @bufbuild/cel's runtime values, and the strict equality the suite is judged by.
 *
 * The comparison is deliberately stricter than CEL's `==`: the suite pins the
 * exact result, so `1`, `1u` and `1.0` are three different answers even though
 * CEL considers them equal, and an expected NaN is met only by NaN.
 */
import { create, equals, toJsonString, type MessageInitShape, type Registry } from "@bufbuild/protobuf";
import { isReflectMessage } from "@bufbuild/protobuf/reflect";
import { anyPack, anyUnpack, NullValue } from "@bufbuild/protobuf/wkt";
import {
  CelScalar,
  celList,
  celMap,
  celUint,
  isCelList,
  isCelMap,
  isCelType,
  isCelUint,
  listType,
  mapType,
  objectType,
  type CelInput,
  type CelType,
  type CelUint,
  type CelValue,
} from "@bufbuild/cel";
import { ValueSchema, type MapValue_Entry, type Value } from "@bufbuild/cel-spec/cel/expr/value_pb.js";

type MapKey = bigint | string | boolean | CelUint;

const SCALAR_TYPES: ReadonlyMap<string, CelType> = new Map<string, CelType>([
  ["int", CelScalar.INT],
  ["uint", CelScalar.UINT],
  ["double", CelScalar.DOUBLE],
  ["bool", CelScalar.BOOL],
  ["string", CelScalar.STRING],
  ["bytes", CelScalar.BYTES],
  ["null_type", CelScalar.NULL],
  ["type", CelScalar.TYPE],
  ["dyn", CelScalar.DYN],
  ["list", listType(CelScalar.DYN)],
  ["map", mapType(CelScalar.DYN, CelScalar.DYN)],
]);

/**
 * Turns a binding from a test case into an input @bufbuild/cel accepts.
 *
 * Enum values become plain ints because @bufbuild/cel 0.6.1 implements the
 * legacy (int-typed) enum semantics.
 *
 * @param value - The binding's value.
 * @param registry - Resolves the message types of `objectValue`s and type names.
 * @returns The input value.
 * @throws Error when the value cannot be represented (unknown message type, bad map key).
 */
export function toCelInput(value: Value, registry: Registry): CelInput {
  const kind = value.kind;
  switch (kind.case) {
    case "nullValue":
      return null;
    case "boolValue":
    case "int64Value":
    case "doubleValue":
    case "stringValue":
    case "bytesValue":
      return kind.value;
    case "uint64Value":
      return celUint(kind.value);
    case "enumValue":
      return BigInt(kind.value.value);
    case "typeValue":
      return lookupType(kind.value, registry);
    case "objectValue": {
      const message = anyUnpack(kind.value, registry);
      if (message === undefined) throw new Error(`binding has an unknown message type ${kind.value.typeUrl}`);
      return message;
    }
    case "listValue":
      return celList(kind.value.values.map((element) => toCelInput(element, registry)));
    case "mapValue": {
      const entries = new Map<MapKey, CelInput>();
      for (const entry of kind.value.entries) {
        const { key, value: entryValue } = requireEntry(entry);
        entries.set(toMapKey(key), toCelInput(entryValue, registry));
      }
      return celMap(entries);
    }
    case undefined:
      throw new Error("binding has no value");
  }
}

function toMapKey(key: Value): MapKey {
  const kind = key.kind;
  if (kind.case === "boolValue" || kind.case === "int64Value" || kind.case === "stringValue") return kind.value;
  if (kind.case === "uint64Value") return celUint(kind.value);
  throw new Error(`a ${String(kind.case)} cannot be a map key`);
}

function lookupType(name: string, registry: Registry): CelType {
  const scalar = SCALAR_TYPES.get(name);
  if (scalar !== undefined) return scalar;
  const desc = registry.getMessage(name);
  return desc === undefined ? objectType(name) : objectType(desc);
}

function requireEntry(entry: MapValue_Entry): { key: Value; value: Value } {
  if (entry.key === undefined || entry.value === undefined) throw new Error("map entry without key or value");
  return { key: entry.key, value: entry.value };
}

/**
 * Expresses an evaluation result as a `cel.expr.Value`, the form the suite's
 * expectations take. Messages are packed into `Any`.
 *
 * @param value - The result.
 * @returns The value message.
 * @throws Error for results the suite cannot express (e.g. an optional).
 */
export function fromCelValue(value: CelValue): Value {
  return create(ValueSchema, valueInit(value));
}

function valueInit(value: CelValue): MessageInitShape<typeof ValueSchema> {
  if (typeof value === "number") return { kind: { case: "doubleValue", value } };
  if (typeof value === "boolean") return { kind: { case: "boolValue", value } };
  if (typeof value === "bigint") return { kind: { case: "int64Value", value } };
  if (typeof value === "string") return { kind: { case: "stringValue", value } };
  if (value === null) return { kind: { case: "nullValue", value: NullValue.NULL_VALUE } };
  if (value instanceof Uint8Array) return { kind: { case: "bytesValue", value } };
  if (isCelUint(value)) return { kind: { case: "uint64Value", value: value.value } };
  if (isCelType(value)) return { kind: { case: "typeValue", value: value.name } };
  if (isCelList(value)) {
    return { kind: { case: "listValue", value: { values: Array.from(value, valueInit) } } };
  }
  if (isCelMap(value)) {
    const entries = Array.from(value.entries(), ([key, entryValue]) => ({ key: valueInit(key), value: valueInit(entryValue) }));
    return { kind: { case: "mapValue", value: { entries } } };
  }
  if (isReflectMessage(value)) return { kind: { case: "objectValue", value: anyPack(value.desc, value.message) } };
  throw new Error(`result ${describeUnknown(value)} has no cel.expr.Value form`);
}

function describeUnknown(value: unknown): string {
  if (typeof value !== "object" || value === null) return typeof value;
  const name = value.constructor.name;
  return name === "" ? "object" : `of class ${name}`;
}

/**
 * Compares an expected and an actual value exactly: kinds must agree (int,
 * uint and double are distinct), doubles compare with `Object.is` (NaN
 * matches NaN, -0 does not match 0), maps compare without regard to entry
 * order, and messages compare field by field after unpacking `Any`.
 *
 * @param expected - The suite's value.
 * @param actual - The evaluator's value, converted with {@link fromCelValue}.
 * @param registry - Resolves packed message types.
 * @returns True when they are the same value.
 */
export function sameValue(expected: Value, actual: Value, registry: Registry): boolean {
  const a = expected.kind;
  const b = actual.kind;
  switch (a.case) {
    case undefined:
      return b.case === undefined;
    case "nullValue":
      return b.case === "nullValue";
    case "boolValue":
    case "int64Value":
    case "uint64Value":
    case "stringValue":
    case "typeValue":
      return b.case === a.case && b.value === a.value;
    case "doubleValue":
      return b.case === "doubleValue" && Object.is(a.value, b.value);
    case "bytesValue":
      return b.case === "bytesValue" && sameBytes(a.value, b.value);
    case "enumValue":
      return b.case === "enumValue" && b.value.type === a.value.type && b.value.value === a.value.value;
    case "objectValue":
      return b.case === "objectValue" && a.value.typeUrl === b.value.typeUrl && equals(ValueSchema, expected, actual, { registry, unpackAny: true, extensions: true });
    case "listValue": {
      if (b.case !== "listValue" || a.value.values.length !== b.value.values.length) return false;
      const actualValues = b.value.values;
      return a.value.values.every((element, index) => {
        const other = actualValues[index];
        return other !== undefined && sameValue(element, other, registry);
      });
    }
    case "mapValue": {
      if (b.case !== "mapValue" || a.value.entries.length !== b.value.entries.length) return false;
      const remaining = [...b.value.entries];
      for (const entry of a.value.entries) {
        const { key, value } = requireEntry(entry);
        const index = remaining.findIndex((candidate) => candidate.key !== undefined && sameValue(key, candidate.key, registry));
        const match = remaining[index];
        if (match?.value === undefined || !sameValue(value, match.value, registry)) return false;
        remaining.splice(index, 1);
      }
      return true;
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

/**
 * Renders a value for a failure message.
 *
 * @param value - The value.
 * @param registry - Needed to print packed messages.
 * @returns Its JSON form, or a fallback when it has none (e.g. an `Any` of an unknown type).
 */
export function showValue(value: Value, registry: Registry): string {
  try {
    return toJsonString(ValueSchema, value, { registry });
  } catch {
    return `<${value.kind.case ?? "empty"} value>`;
  }
}
