import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditRecord } from "@aesp/core";
import { escapeParamValue, formatSyslogMessage, frameOctetCounting, parseOctetCountedFrames } from "./syslog-format.ts";

const identity = { hostname: "aesp-1.example.com", appName: "aesp-host", procId: "4242", enterpriseId: 32473 };

function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    eventId: "evt_1",
    timestampMs: Date.UTC(2025, 0, 31, 12, 0, 0, 123),
    eventType: "authz.denied",
    tenantId: "acme",
    principalId: "usr_1",
    sessionId: "",
    resource: "contract:memo@1.0.0",
    action: "invoke",
    outcome: "DENIED",
    sourceIp: "10.0.0.1",
    userAgent: "",
    correlationId: "",
    riskScore: "",
    policyViolations: [],
    metadata: { error_code: "POLICY_VIOLATION" },
    seq: 7,
    leafHash: "aa",
    chainHash: "bb",
    ...overrides,
  };
}

describe("RFC 5424 formatting", () => {
  it("writes PRI (log audit facility, severity from the catalogue), version, timestamp, header fields and MSGID", () => {
    const message = formatSyslogMessage(record(), identity);
    // facility 13 × 8 + warning (4) = 108
    assert.match(message, /^<108>1 2025-01-31T12:00:00\.123Z aesp-1\.example\.com aesp-host 4242 authz\.denied \[aesp@32473 /);
    assert.match(formatSyslogMessage(record({ eventType: "tool_call.completed", outcome: "SUCCESS" }), identity), /^<110>1 /, "info → 6");
    assert.match(formatSyslogMessage(record({ eventType: "security.cross_tenant_attempt" }), identity), /^<106>1 /, "security → 2 (critical)");
  });

  it("carries the indexed fields as SD-PARAMs, omits empty ones, and the whole record as JSON after a BOM", () => {
    const message = formatSyslogMessage(record(), identity);
    assert.match(message, / event_id="evt_1" seq="7" event_type="authz\.denied" outcome="DENIED" tenant_id="acme" principal_id="usr_1" /);
    assert.doesNotMatch(message, /correlation_id=/, "empty values are left out");
    const bom = message.indexOf("\uFEFF");
    assert.ok(bom > 0);
    assert.deepEqual(JSON.parse(message.slice(bom + 1)), record());
  });

  it("escapes \", \\ and ] in PARAM-VALUEs so the structured data cannot be broken out of", () => {
    assert.equal(escapeParamValue('a"b\\c]d'), 'a\\"b\\\\c\\]d');
    const message = formatSyslogMessage(record({ resource: 'x"] [evil@1 k="v' }), identity);
    const sd = message.slice(message.indexOf("[aesp@"), message.indexOf("\uFEFF"));
    assert.ok(sd.includes('resource="x\\"\\] [evil@1 k=\\"v"'), sd);
    assert.equal(sd.match(/(?<!\\)\]/g)?.length, 1, "exactly one unescaped ] closes the element");
  });

  it("keeps header fields printable ASCII without spaces, within RFC limits, '-' when empty", () => {
    const message = formatSyslogMessage(record(), { hostname: "host with spaces é", appName: "a".repeat(60), procId: "", enterpriseId: 1 });
    const [, , host, app, proc] = message.split(" ");
    assert.equal(host, "host_with_spaces__");
    assert.equal(app?.length, 48);
    assert.equal(proc, "-");
  });
});

describe("RFC 5425 octet-counting framing", () => {
  it("prefixes MSG-LEN in bytes (not characters) and a space", () => {
    const frame = frameOctetCounting("<110>1 - - - - - - é✓");
    const text = frame.toString("utf8");
    const [length, ...rest] = text.split(" ");
    assert.equal(Number(length), Buffer.byteLength(rest.join(" ")));
    assert.equal(Number(length), 24, "21 characters, 24 bytes");
  });

  it("round-trips several frames, split anywhere in the stream", () => {
    const messages = ["<110>1 a", "<108>1 b ✓", `<106>1 ${"x".repeat(3000)}`];
    const stream = Buffer.concat(messages.map(frameOctetCounting));
    for (const cut of [1, 5, 9, 20, stream.length - 1]) {
      const first = parseOctetCountedFrames(stream.subarray(0, cut));
      const second = parseOctetCountedFrames(Buffer.concat([first.rest, stream.subarray(cut)]));
      assert.deepEqual([...first.messages, ...second.messages], messages, `cut at ${String(cut)}`);
      assert.equal(second.rest.length, 0);
    }
    assert.throws(() => parseOctetCountedFrames(Buffer.from("<110>1 no framing")), /octet-counted/);
  });
});
