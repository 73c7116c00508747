import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AdmSchema } from "../records.ts";
import { REDACTED, redactArguments, redactMetadata, schemaHasSecrets } from "./redact.ts";

const schema: AdmSchema = {
  type: "OBJECT",
  properties: {
    city: { type: "STRING" },
    apiPassword: { type: "STRING", secret: true },
    retries: { type: "INTEGER" },
    credentials: {
      type: "OBJECT",
      properties: {
        user: { type: "STRING" },
        pin: { type: "INTEGER", secret: true },
      },
    },
    accounts: {
      type: "ARRAY",
      items: {
        type: "OBJECT",
        properties: { iban: { type: "STRING", secret: true }, bank: { type: "STRING" } },
      },
    },
    tokens: { type: "ARRAY", items: { type: "STRING", secret: true } },
    vault: { type: "OBJECT", secret: true, properties: { key: { type: "STRING" } } },
    optionalSecret: { type: "STRING", secret: true, nullable: true },
  },
};

describe("redactArguments", () => {
  it("replaces secret values at every depth and keeps the rest", () => {
    const args = {
      city: "Paris",
      apiPassword: "hunter2",
      retries: 3,
      credentials: { user: "ada", pin: 1234 },
      accounts: [
        { iban: "FR76-1", bank: "A" },
        { iban: "FR76-2", bank: "B" },
      ],
      tokens: ["t1", "t2"],
      vault: { key: "k" },
      optionalSecret: null,
    };
    const original = structuredClone(args);
    assert.deepEqual(redactArguments(args, schema), {
      city: "Paris",
      apiPassword: REDACTED,
      retries: 3,
      credentials: { user: "ada", pin: REDACTED },
      accounts: [
        { iban: REDACTED, bank: "A" },
        { iban: REDACTED, bank: "B" },
      ],
      tokens: [REDACTED, REDACTED],
      vault: REDACTED,
      optionalSecret: null,
    });
    assert.deepEqual(args, original, "the input is not mutated");
    const serialised = JSON.stringify(redactArguments(args, schema));
    for (const secret of ["hunter2", "1234", "FR76", "t1", '"k"']) assert.ok(!serialised.includes(secret), secret);
  });

  it("treats __proto__ as data and does not follow inherited schema names", () => {
    const args = JSON.parse('{"__proto__": {"polluted": true}, "toString": "x", "apiPassword": "p"}') as unknown;
    const redacted = redactArguments(args, schema) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(redacted), Object.prototype);
    assert.deepEqual(Object.keys(redacted), ["__proto__", "toString", "apiPassword"]);
    assert.equal(redacted["apiPassword"], REDACTED);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });

  it("keeps values the schema does not describe and handles a null schema", () => {
    assert.deepEqual(redactArguments({ extra: "v" }, schema), { extra: "v" });
    assert.equal(redactArguments("plain", { type: "STRING" }), "plain");
    const anything = { apiPassword: "p" };
    assert.equal(redactArguments(anything, null), anything);
    assert.equal(redactArguments("whole", { type: "STRING", secret: true }), REDACTED);
  });

  it("reports whether a schema has secrets", () => {
    assert.equal(schemaHasSecrets(schema), true);
    assert.equal(schemaHasSecrets({ type: "OBJECT", properties: { a: { type: "STRING" } } }), false);
    assert.equal(schemaHasSecrets({ type: "ARRAY", items: { type: "STRING", secret: true } }), true);
    assert.equal(schemaHasSecrets(null), false);
  });
});

describe("redactMetadata", () => {
  it("drops credential-like keys and bearer values, keeps the rest", () => {
    const metadata = {
      Authorization: "x",
      "x-api-key": "k",
      apiKey: "k",
      api_key: "k",
      sessionToken: "t",
      clientSecret: "s",
      password: "p",
      Cookie: "c",
      forwarded: "Bearer abc.def",
      basic: "Basic dXNlcjpwYXNz",
      id_token: "eyJ…",
      tokenid: "t",
      runtime_id: "rt_1",
      token_id: "jti_1",
      apiKeyId: "key_1",
      duration_ms: "12",
    };
    assert.deepEqual(redactMetadata(metadata), { runtime_id: "rt_1", token_id: "jti_1", apiKeyId: "key_1", duration_ms: "12" });
    assert.equal(metadata.password, "p", "the input is not mutated");
    const hostile = redactMetadata(JSON.parse('{"__proto__": "x", "runtime_id": "rt"}') as Record<string, string>);
    assert.equal(Object.getPrototypeOf(hostile), Object.prototype);
    assert.deepEqual(Object.keys(hostile), ["__proto__", "runtime_id"]);
  });
});
