import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditRecord } from "../records.ts";
import { leafHash, linkRecords } from "./canonical.ts";
import { ZERO_HASH_HEX, toHex } from "./encoding.ts";
import { cefHeader, cefLine, cefValue, csvCell, csvHeader, csvRow, jsonlLine, ocsfEvent } from "./export-formats.ts";
import { ocsfExportValidator } from "./ocsf-schema.ts";
import { draft, sha256 } from "./test-kit.test.ts";

const product = { vendor: "AESP", name: "AESP Host", version: "0.1.0" };

function record(overrides: Parameters<typeof draft>[1] = {}): AuditRecord {
  return linkRecords({ size: 7, chainHash: ZERO_HASH_HEX }, [draft(7, overrides)], sha256)[0]!;
}

/** A minimal RFC 4180 parser (quoted fields with doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  return rows;
}

void describe("JSON Lines export", () => {
  it("each line recomputes its leaf hash from its own fields", () => {
    const r = record({ metadata: { note: 'quote " and\nnewline', "ü": "✓" }, policyViolations: ["p1"] });
    const line = jsonlLine(r);
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
    const parsed = JSON.parse(line) as AuditRecord;
    assert.equal(toHex(leafHash(parsed, sha256)), r.leafHash);
    assert.equal(parsed.seq, 7);
    assert.equal("chainHash" in parsed, false, "store-only fields are not exported");
  });
});

void describe("CSV export", () => {
  it("quotes commas, quotes and line breaks (RFC 4180)", () => {
    assert.equal(csvCell("plain"), "plain");
    assert.equal(csvCell("a,b"), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell("two\nlines"), '"two\nlines"');
    assert.equal(csvCell("cr\rhere"), '"cr\rhere"');
  });

  it("neutralises formula injection: cells starting with = + - @ tab or CR get a leading quote", () => {
    for (const attack of ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]) {
      const cell = csvCell(attack);
      const value = parseCsv(cell + "\r\n")[0]![0]!;
      assert.equal(value, "'" + attack, attack);
    }
    assert.equal(csvCell("a=b"), "a=b", "only a leading character starts a formula");
  });

  it("a row parses back to as many cells as the header, with hostile values intact", () => {
    const r = record({ principalId: "=cmd|' /C calc'!A0", resource: 'x,"y"\r\nz', metadata: { k: "v,w" } });
    const rows = parseCsv(csvHeader() + csvRow(r));
    assert.equal(rows.length, 2);
    assert.equal(rows[1]!.length, rows[0]!.length);
    const cell = (name: string) => rows[1]![rows[0]!.indexOf(name)]!;
    assert.equal(cell("principal_id"), "'=cmd|' /C calc'!A0");
    assert.equal(cell("resource"), 'x,"y"\r\nz');
    assert.deepEqual(JSON.parse(cell("metadata")), { k: "v,w" });
    assert.equal(cell("event_id"), r.eventId);
    assert.equal(cell("leaf_hash"), r.leafHash);
  });
});

void describe("CEF export", () => {
  it("escapes | and \\ in header fields and drops line breaks there", () => {
    assert.equal(cefHeader("a|b\\c"), "a\\|b\\\\c");
    assert.equal(cefHeader("x\r\ny\nz"), "x y z");
  });

  it("escapes \\ = CR and LF in extension values", () => {
    assert.equal(cefValue("a=b\\c\nd\re"), "a\\=b\\\\c\\nd\\re");
    assert.equal(cefValue("pipes | stay"), "pipes | stay");
  });

  it("one event is one line whose extension cannot be split by an injected key", () => {
    const r = record({ eventType: "authz.denied", outcome: "DENIED", principalId: "evil act=forged\nCEF:0|fake", resource: "a|b" });
    const line = cefLine(r, product);
    assert.equal(line.split("\n").length, 2, "a single line");
    assert.match(line, /^CEF:0\|AESP\|AESP Host\|0\.1\.0\|authz\.denied\|[^|]+\|6\|/);
    // Split the extension on unescaped '=' preceded by a key: exactly the keys we wrote.
    const extension = line.slice(line.indexOf("|6|") + 3, -1);
    const keys = [...extension.matchAll(/(?:^| )([A-Za-z0-9]+)=/g)].map((m) => m[1]);
    assert.equal(keys.includes("act"), true);
    assert.equal(keys.filter((k) => k === "act").length, 1, "the injected act= is escaped, not a second key");
    assert.match(extension, /suser=evil act\\=forged\\nCEF:0\|fake/);
    assert.match(extension, /request=a\|b/);
  });

  it("severity follows the catalogue (security 9, warning 6, info 3, unknown 5)", () => {
    const sev = (eventType: string) => cefLine(record({ eventType }), product).split("|")[6];
    assert.equal(sev("break_glass.activated"), "9");
    assert.equal(sev("authz.denied"), "6");
    assert.equal(sev("session.created"), "3");
    assert.equal(sev("app.custom_thing"), "5");
  });

  it("src is emitted only for an IP address", () => {
    assert.match(cefLine(record({ sourceIp: "10.1.2.3" }), product), / src=10\.1\.2\.3/);
    assert.doesNotMatch(cefLine(record({ sourceIp: "not an ip" }), product), / src=/);
  });
});

void describe("OCSF export", () => {
  const validate = ocsfExportValidator();
  const check = (r: AuditRecord) => {
    const event = ocsfEvent(r, product);
    assert.equal(validate(event), null, `${r.eventType}: ${JSON.stringify(event)}`);
    return event;
  };

  it("API calls are API Activity (6003) with api.operation, actor and status from the outcome", () => {
    const event = check(record({ eventType: "tool_call.completed", action: "InvokeTool", outcome: "SUCCESS" }));
    assert.equal(event["class_uid"], 6003);
    assert.equal(event["status_id"], 1);
    assert.deepEqual((event["api"] as { operation: string }).operation, "InvokeTool");
    const denied = check(record({ eventType: "tool_call.arguments_rejected", outcome: "DENIED" }));
    assert.equal(denied["status_id"], 2);
    assert.equal(denied["severity_id"], 3);
    assert.equal(denied["type_uid"], 600399);
  });

  it("sign-ins are Authentication (3002); authorisation decisions Authorize Session (3003)", () => {
    const signIn = check(record({ eventType: "authn.failed", outcome: "DENIED", principalId: "" , resource: "alice" }));
    assert.equal(signIn["class_uid"], 3002);
    assert.equal(signIn["activity_id"], 1);
    assert.equal((signIn["user"] as { uid: string }).uid, "alice");
    assert.equal(check(record({ eventType: "token.revoked" }))["activity_id"], 2);
    const decision = check(record({ eventType: "authz.denied", outcome: "DENIED" }));
    assert.equal(decision["class_uid"], 3003);
    assert.equal(decision["type_uid"], 300399);
  });

  it("every catalogue event type and outcome validates against the schema", async () => {
    const { auditEventCatalogue } = await import("./events.ts");
    for (const [eventType, spec] of Object.entries(auditEventCatalogue)) check(record({ eventType, outcome: spec.outcome }));
    check(record({ eventType: "app.custom", sourceIp: "", userAgent: "", sessionId: "", principalId: "", correlationId: "" }));
  });

  it("keeps what OCSF has no place for under unmapped, and the schema rejects a malformed event", () => {
    const event = check(record({ metadata: { a: "1" }, policyViolations: ["p"] }));
    assert.deepEqual((event["unmapped"] as { metadata: unknown }).metadata, { a: "1" });
    assert.match(validate({ ...event, class_uid: 6003, severity_id: 42 }) ?? "", /severity_id/);
    const { metadata: _dropped, ...noMetadata } = event;
    assert.match(validate(noMetadata) ?? "", /metadata/);
  });
});
