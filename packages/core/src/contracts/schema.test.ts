import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { AdmSchema } from "../records.ts";
import { findAdmSchemaIssues, MAX_SCHEMA_DEPTH, toJsonSchema, validateAdmSchema } from "./schema.ts";

function paths(schema: unknown): string[] {
  return findAdmSchemaIssues(schema).map((issue) => issue.path);
}

function nestedArrays(depth: number): AdmSchema {
  let schema: AdmSchema = { type: "STRING" };
  for (let level = 1; level < depth; level++) schema = { type: "ARRAY", items: schema };
  return schema;
}

void describe("toJsonSchema", () => {
  void it("lower-cases types, closes objects by default and declares the 2020-12 dialect", () => {
    const schema: AdmSchema = {
      type: "OBJECT",
      description: "weather query",
      properties: {
        city: { type: "STRING", minLength: 1, maxLength: 80, pattern: "^[A-Za-z ]+$" },
        days: { type: "INTEGER", minimum: 1, maximum: 14, format: "int32" },
        units: { type: "STRING", enum: ["metric", "imperial"] },
        tags: { type: "ARRAY", items: { type: "STRING", format: "uuid" }, minItems: 0, maxItems: 5 },
        detailed: { type: "BOOLEAN" },
        ratio: { type: "NUMBER" },
      },
      required: ["city"],
    };
    assert.deepEqual(toJsonSchema(schema), {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      description: "weather query",
      properties: {
        city: { type: "string", minLength: 1, maxLength: 80, pattern: "^[A-Za-z ]+$" },
        days: { type: "integer", minimum: 1, maximum: 14, format: "int32" },
        units: { type: "string", enum: ["metric", "imperial"] },
        tags: { type: "array", items: { type: "string", format: "uuid" }, minItems: 0, maxItems: 5 },
        detailed: { type: "boolean" },
        ratio: { type: "number" },
      },
      required: ["city"],
      additionalProperties: false,
    });
  });

  void it("turns nullable into a type union with null, and adds null to an enum", () => {
    assert.deepEqual(toJsonSchema({ type: "STRING", nullable: true, enum: ["a"] }, { dialect: false }), {
      type: ["string", "null"],
      enum: ["a", null],
    });
    assert.deepEqual(toJsonSchema({ type: "INTEGER", nullable: false }, { dialect: false }), { type: "integer" });
  });

  void it("keeps additionalProperties: true when asked, omits an empty required list and drops secret", () => {
    assert.deepEqual(
      toJsonSchema({ type: "OBJECT", properties: { token: { type: "STRING", secret: true } }, required: [], additionalProperties: true }, { dialect: false }),
      { type: "object", properties: { token: { type: "string" } }, additionalProperties: true },
    );
  });

  void it("does not modify its input", () => {
    const schema: AdmSchema = { type: "OBJECT", properties: { a: { type: "STRING", enum: ["x"] } }, required: ["a"] };
    const before = structuredClone(schema);
    const translated = toJsonSchema(schema);
    translated.required?.push("b");
    translated.properties?.["a"]?.enum?.push("y");
    assert.deepEqual(schema, before);
  });
});

void describe("findAdmSchemaIssues", () => {
  void it("accepts a well-formed schema", () => {
    assert.deepEqual(
      findAdmSchemaIssues({
        type: "OBJECT",
        properties: { a: { type: "ARRAY", items: { type: "OBJECT", properties: { b: { type: "NUMBER", nullable: true } } } } },
        required: ["a"],
      }),
      [],
    );
    assert.deepEqual(findAdmSchemaIssues({ type: "OBJECT", properties: {}, required: [] }), []);
  });

  void it("rejects an ARRAY without items", () => {
    assert.deepEqual(findAdmSchemaIssues({ type: "ARRAY" }), [{ path: "/items", message: "ARRAY requires items" }]);
  });

  void it("rejects required entries that are not properties, and duplicates", () => {
    const issues = findAdmSchemaIssues({ type: "OBJECT", properties: { x: { type: "STRING" } }, required: ["x", "y", "x"] });
    assert.deepEqual(issues, [
      { path: "/required/1", message: '"y" is not declared in properties' },
      { path: "/required/2", message: '"x" is listed twice' },
    ]);
  });

  void it("rejects enum on a non-STRING type, and empty or repeated enums", () => {
    assert.deepEqual(paths({ type: "INTEGER", enum: ["1"] }), ["/enum"]);
    assert.deepEqual(paths({ type: "STRING", enum: [] }), ["/enum"]);
    assert.deepEqual(paths({ type: "STRING", enum: ["a", "a"] }), ["/enum/1"]);
    assert.deepEqual(paths({ type: "STRING", enum: ["a", 1] }), ["/enum/1"]);
  });

  void it("rejects a pattern that does not compile", () => {
    assert.deepEqual(findAdmSchemaIssues({ type: "STRING", pattern: "([a-z" }), [{ path: "/pattern", message: "is not a valid regular expression" }]);
    assert.deepEqual(findAdmSchemaIssues({ type: "STRING", pattern: "^\\p{L}+$" }), []);
  });

  void it("rejects constraint keywords on types they do not constrain", () => {
    assert.deepEqual(paths({ type: "STRING", minimum: 1 }), ["/minimum"]);
    assert.deepEqual(paths({ type: "INTEGER", pattern: "x" }), ["/pattern"]);
    assert.deepEqual(paths({ type: "BOOLEAN", items: { type: "STRING" } }), ["/items"]);
    assert.deepEqual(paths({ type: "ARRAY", items: { type: "STRING" }, properties: {} }), ["/properties"]);
  });

  void it("rejects unknown keywords and unknown formats", () => {
    assert.deepEqual(paths({ type: "INTEGER", minimun: 1 }), ["/minimun"]);
    assert.deepEqual(paths({ type: "STRING", format: "email-ish" }), ["/format"]);
    assert.deepEqual(paths({ type: "STRING", format: "int32" }), ["/format"]);
    assert.deepEqual(paths({ type: "NUMBER", format: "double" }), []);
  });

  void it("rejects bad bounds", () => {
    assert.deepEqual(paths({ type: "STRING", minLength: -1 }), ["/minLength"]);
    assert.deepEqual(paths({ type: "STRING", minLength: 1.5 }), ["/minLength"]);
    assert.deepEqual(paths({ type: "NUMBER", minimum: 5, maximum: 1 }), ["/minimum"]);
    assert.deepEqual(paths({ type: "NUMBER", minimum: Number.NaN }), ["/minimum"]);
  });

  void it("rejects property names outside the identifier pattern and reserved names", () => {
    const schema = JSON.parse(
      `{"type":"OBJECT","properties":{"ok_name-1":{"type":"STRING"},"2abc":{"type":"STRING"},"has space":{"type":"STRING"},"${"a".repeat(65)}":{"type":"STRING"},"__proto__":{"type":"STRING"}}}`,
    ) as unknown;
    assert.deepEqual(paths(schema), ["/properties/2abc", "/properties/has space", `/properties/${"a".repeat(65)}`, "/properties/__proto__"]);
  });

  void it("rejects unknown types and values that are not schema objects", () => {
    assert.deepEqual(paths({ type: "string" }), ["/type"]);
    assert.deepEqual(paths({ type: "DATETIME" }), ["/type"]);
    assert.deepEqual(paths(null), [""]);
    assert.deepEqual(paths([]), [""]);
    assert.deepEqual(paths({ type: "OBJECT", properties: { a: "STRING" } }), ["/properties/a"]);
  });

  void it(`accepts nesting of ${MAX_SCHEMA_DEPTH} levels and rejects one more`, () => {
    assert.deepEqual(findAdmSchemaIssues(nestedArrays(MAX_SCHEMA_DEPTH)), []);
    const issues = findAdmSchemaIssues(nestedArrays(MAX_SCHEMA_DEPTH + 1));
    assert.equal(issues.length, 1);
    assert.match(issues[0]?.message ?? "", /deeper than 32/);
    assert.equal(issues[0]?.path, `${"/items".repeat(MAX_SCHEMA_DEPTH)}`);
  });

  void it("rejects schemas with more than 1,000 nodes", () => {
    const wide = (count: number): unknown => ({
      type: "OBJECT",
      properties: Object.fromEntries(Array.from({ length: count }, (_, index) => [`p${index}`, { type: "STRING" }])),
    });
    assert.deepEqual(findAdmSchemaIssues(wide(999)), []);
    assert.deepEqual(findAdmSchemaIssues(wide(1000)), [{ path: "", message: "schema has more than 1000 nodes" }]);
  });

  void it("prefixes issue paths with the base path", () => {
    assert.deepEqual(paths({ type: "OBJECT", properties: { a: { type: "ARRAY" } } }).map((path) => `/parameters${path}`), ["/parameters/properties/a/items"]);
    assert.deepEqual(findAdmSchemaIssues({ type: "ARRAY" }, "/returnType").map((issue) => issue.path), ["/returnType/items"]);
  });
});

void describe("validateAdmSchema", () => {
  void it("throws INVALID_ARGUMENT naming the first issue", () => {
    assert.throws(
      () => validateAdmSchema({ type: "OBJECT", properties: { a: { type: "ARRAY" } } }),
      (error: unknown) =>
        error instanceof EnterpriseError &&
        error.code === "INVALID_ARGUMENT" &&
        error.details["field"] === "/properties/a/items" &&
        error.details["validation_errors"] === "/properties/a/items: ARRAY requires items",
    );
  });

  void it("returns normally for a valid schema", () => {
    assert.doesNotThrow(() => validateAdmSchema({ type: "STRING" }));
  });
});
