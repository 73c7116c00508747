import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { AuditEventDraft } from "../records.ts";
import { CANONICAL_EVENT_FIELDS, EventHasher, canonicalEventBytes, canonicalEventJson, chainHash, leafHash, linkRecords } from "./canonical.ts";
import { ZERO_HASH_HEX, toHex } from "./encoding.ts";
import { draft, sha256 } from "./test-kit.test.ts";

/** An independent RFC 8785 serialiser for JSON made of strings, integers, arrays and objects. */
function jcs(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jcs(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function eventFields(event: AuditEventDraft): Record<string, unknown> {
  return Object.fromEntries(CANONICAL_EVENT_FIELDS.map((field) => [field, event[field]]));
}

function hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

describe("canonical event encoding", () => {
  it("is exactly this RFC 8785 text for a known event (the format is frozen)", () => {
    const event = draft(0, { metadata: { b: "2", a: "1" }, policyViolations: ["p1"] });
    const expected =
      '{"action":"InvokeTool","correlationId":"cor_0","eventId":"evt_0","eventType":"tool_call.completed",' +
      '"metadata":{"a":"1","b":"2"},"outcome":"SUCCESS","policyViolations":["p1"],"principalId":"usr_0",' +
      '"resource":"get_weather","riskScore":"","sessionId":"ses_0","sourceIp":"127.0.0.1","tenantId":"t0",' +
      '"timestampMs":1700000000000,"userAgent":"aesp-sdk/1.0"}';
    assert.equal(canonicalEventJson(event), expected);
    assert.equal(toHex(leafHash(event, sha256)), hex(Buffer.concat([Buffer.from([0]), Buffer.from(expected, "utf8")])));
  });

  it("agrees with an independent JCS serialiser on awkward keys and strings", () => {
    const awkward = [
      { "10": "ten", "9": "nine", a: "x", B: "y", "é": "e-acute", "\u{1F600}": "emoji", "": "empty" },
      { "quote\"key": "line\nbreak", tab: "\t", nul: "\u0000", lone: "\uD800", pair: "\uD83D\uDE00" },
      {},
    ];
    awkward.forEach((metadata, i) => {
      const event = draft(i, { metadata, resource: "ü/\u2028/\\", policyViolations: ["b", "a", ""] });
      assert.equal(canonicalEventJson(event), jcs(eventFields(event)));
    });
  });

  it("hashes the same bytes on the streaming path as the text path, including growth past the buffer", () => {
    const events = [
      draft(1),
      draft(2, { metadata: { "10": "ten", "9": "\u007f", "\u{1F600}": "\uD800", q: '"\\' }, userAgent: "\u0000\u001f\u0020" }),
      draft(3, { resource: "é".repeat(3000), metadata: Object.fromEntries(Array.from({ length: 300 }, (_, k) => [`k${String(k)}`, "v".repeat(k)])) }),
      draft(4, { policyViolations: ["\uDFFF", "日本", ""], riskScore: "0.75" }),
    ];
    const hasher = new EventHasher(sha256);
    for (const event of events) {
      const expected = hex(Buffer.concat([Buffer.from([0]), Buffer.from(canonicalEventJson(event), "utf8")]));
      assert.equal(toHex(hasher.leaf(event)), expected);
    }
  });

  it("ignores field order, position fields and foreign properties", () => {
    const event = draft(7);
    const reordered = Object.fromEntries(Object.entries(event).reverse()) as unknown as AuditEventDraft;
    const linked = { ...event, seq: 42, leafHash: "ab", chainHash: "cd", adapterRowId: 9 };
    const metadataReordered = { ...event, metadata: Object.fromEntries(Object.entries(event.metadata).reverse()) };
    const bytes = canonicalEventBytes(event);
    assert.deepEqual(canonicalEventBytes(reordered), bytes);
    assert.deepEqual(canonicalEventBytes(linked), bytes);
    assert.deepEqual(canonicalEventBytes(metadataReordered), bytes);
  });

  it("escapes lone surrogates so the bytes stay valid UTF-8 and distinct", () => {
    const a = canonicalEventBytes(draft(1, { userAgent: "\uD800" }));
    const b = canonicalEventBytes(draft(1, { userAgent: "\uFFFD" }));
    assert.notDeepEqual(a, b);
    assert.doesNotThrow(() => new TextDecoder("utf-8", { fatal: true }).decode(a));
  });

  it("changes the leaf hash when any single field changes", () => {
    const base = draft(3);
    const baseHash = toHex(leafHash(base, sha256));
    const changes: Partial<AuditEventDraft>[] = [
      { eventId: "evt_x" },
      { timestampMs: base.timestampMs + 1 },
      { eventType: "authz.denied" },
      { tenantId: "t9" },
      { principalId: "usr_x" },
      { sessionId: "ses_x" },
      { resource: "other" },
      { action: "Other" },
      { outcome: "DENIED" },
      { sourceIp: "127.0.0.2" },
      { userAgent: "x" },
      { correlationId: "cor_x" },
      { riskScore: "0.9" },
      { policyViolations: ["p"] },
      { metadata: { ...base.metadata, extra: "" } },
    ];
    assert.equal(changes.length, CANONICAL_EVENT_FIELDS.length);
    for (const change of changes) assert.notEqual(toHex(leafHash({ ...base, ...change }, sha256)), baseHash, JSON.stringify(change));
  });

  it("refuses malformed events naming the field", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ timestampMs: 1.5 }, "timestampMs"],
      [{ timestampMs: Number.NaN }, "timestampMs"],
      [{ timestampMs: -1 }, "timestampMs"],
      [{ timestampMs: "1" }, "timestampMs"],
      [{ tenantId: undefined }, "tenantId"],
      [{ outcome: 1 }, "outcome"],
      [{ metadata: { a: 1 } }, "metadata"],
      [{ metadata: null }, "metadata"],
      [{ metadata: ["a"] }, "metadata"],
      [{ policyViolations: "p" }, "policyViolations"],
      [{ policyViolations: [1] }, "policyViolations"],
    ];
    for (const [change, field] of cases) {
      const event: AuditEventDraft = { ...draft(1), ...change };
      const namesField = (err: unknown) => err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT" && err.details["field"] === field;
      assert.throws(() => canonicalEventJson(event), namesField, field);
      assert.throws(() => new EventHasher(sha256).leaf(event), namesField, field);
    }
  });
});

describe("linkRecords", () => {
  it("numbers from the head and chains from 32 zero bytes", () => {
    const drafts = [draft(0), draft(1), draft(2)];
    const records = linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, drafts, sha256);
    assert.deepEqual(records.map((r) => r.seq), [0, 1, 2]);
    let previous = Buffer.alloc(32);
    for (const [i, record] of records.entries()) {
      const leaf = Buffer.from(leafHash(drafts[i]!, sha256));
      assert.equal(record.leafHash, leaf.toString("hex"));
      assert.equal(record.chainHash, hex(Buffer.concat([previous, leaf])));
      assert.equal(record.chainHash, toHex(chainHash(previous.toString("hex"), leaf, sha256)));
      previous = Buffer.from(record.chainHash, "hex");
    }
  });

  it("links batch after batch exactly as one batch", () => {
    const drafts = Array.from({ length: 10 }, (_, i) => draft(i));
    const whole = linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, drafts, sha256);
    const first = linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, drafts.slice(0, 4), sha256);
    const second = linkRecords({ size: 4, chainHash: first.at(-1)!.chainHash }, drafts.slice(4), sha256);
    assert.deepEqual([...first, ...second], whole);
  });

  it("copies drafts instead of aliasing or mutating them", () => {
    const original = draft(5);
    const snapshot = structuredClone(original);
    const [record] = linkRecords({ size: 9, chainHash: ZERO_HASH_HEX }, [original], sha256);
    assert.deepEqual(original, snapshot);
    record!.metadata["runtimeId"] = "changed";
    record!.policyViolations.push("changed");
    assert.deepEqual(original, snapshot);
    assert.equal(record!.seq, 9);
  });

  it("uses precomputed leaf hashes when given and checks their count", () => {
    const drafts = [draft(0), draft(1)];
    const leaves = drafts.map((d) => leafHash(d, sha256));
    assert.deepEqual(
      linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, drafts, sha256, leaves),
      linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, drafts, sha256),
    );
    assert.throws(() => linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, drafts, sha256, leaves.slice(1)), EnterpriseError);
  });

  it("refuses a malformed head", () => {
    assert.throws(() => linkRecords({ size: 0, chainHash: "00" }, [draft(0)], sha256), EnterpriseError);
    assert.throws(() => linkRecords({ size: -1, chainHash: ZERO_HASH_HEX }, [draft(0)], sha256), EnterpriseError);
  });
});
