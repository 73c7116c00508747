import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { auditEventCatalogue, auditEventSpec, auditEventTypes, isAuditEventType, renderAuditEventReference, type AuditEventType } from "./events.ts";
import { redactMetadata } from "./redact.ts";

const REQUIRED: readonly AuditEventType[] = [
  "authn.succeeded",
  "authn.failed",
  "bootstrap.redeemed",
  "session.created",
  "session.destroyed",
  "session.expired",
  "authz.allowed",
  "authz.denied",
  "policy.audit_matched",
  "tool_call.started",
  "tool_call.completed",
  "tool_call.failed",
  "tool_call.result_rejected",
  "tool_call.arguments_rejected",
  "contract.submitted",
  "contract.approval_requested",
  "contract.activated",
  "contract.rejected",
  "contract.deprecated",
  "contract.retired",
  "policy.submitted",
  "policy.activated",
  "policy.rejected",
  "approval.requested",
  "approval.granted",
  "approval.denied",
  "approval.self_approval_blocked",
  "runtime.enrolled",
  "runtime.admitted",
  "runtime.rejected",
  "runtime.disconnected",
  "certificate.revoked",
  "tenant.created",
  "tenant.suspended",
  "tenant.resumed",
  "service_account.created",
  "api_key.exchanged",
  "security.cross_tenant_attempt",
  "rpc.rejected",
  "audit.checkpoint_signed",
];

const SECURITY: readonly AuditEventType[] = [
  "tool_call.result_rejected",
  "approval.self_approval_blocked",
  "runtime.rejected",
  "security.cross_tenant_attempt",
];

const SEVERITY_LETTER = { info: "I", warning: "W", security: "S" } as const;

describe("audit event catalogue", () => {
  it("contains every required event type", () => {
    for (const type of REQUIRED) assert.ok(isAuditEventType(type), type);
    assert.equal(isAuditEventType("tool_call.exploded"), false);
    assert.equal(isAuditEventType("toString"), false, "inherited names are not event types");
  });

  it("marks the attack signals as security events", () => {
    for (const type of SECURITY) assert.equal(auditEventSpec(type).severity, "security", type);
  });

  it("names types noun.verb in snake case and gives each a unique well-formed code", () => {
    const codes = new Set<string>();
    for (const type of auditEventTypes) {
      const spec = auditEventSpec(type);
      assert.match(type, /^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$/, type);
      assert.match(spec.code, /^[A-Z]{3}\d{3}[IWS]$/, type);
      assert.equal(spec.code.at(-1), SEVERITY_LETTER[spec.severity], `${type}: the code's letter is its severity`);
      assert.ok(!codes.has(spec.code), `duplicate code ${spec.code}`);
      codes.add(spec.code);
      assert.ok(spec.description.endsWith("."), `${type}: description is a sentence`);
    }
    assert.equal(codes.size, Object.keys(auditEventCatalogue).length);
  });

  it("uses snake_case metadata keys that survive redaction", () => {
    for (const type of auditEventTypes) {
      const metadata = auditEventSpec(type).metadata;
      for (const key of Object.keys(metadata)) assert.match(key, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/, `${type}.${key}`);
      const sample = Object.fromEntries(Object.keys(metadata).map((key) => [key, "value"]));
      assert.deepEqual(redactMetadata(sample), sample);
    }
  });

  it("renders the reference page from the catalogue", () => {
    const page = renderAuditEventReference();
    assert.equal(page, renderAuditEventReference(), "deterministic");
    assert.ok(page.startsWith("# Audit events\n"));
    assert.ok(page.endsWith("\n") && !page.endsWith("\n\n"));
    const rows = page.split("\n").filter((line) => line.startsWith("| [`"));
    assert.equal(rows.length, auditEventTypes.length);
    for (const type of auditEventTypes) {
      const spec = auditEventSpec(type);
      assert.ok(page.includes(`\n## ${type}\n`), type);
      assert.ok(page.includes(`| [\`${type}\`](#${type.replace(".", "")}) | ${spec.code} | ${spec.severity} |`), type);
      for (const key of Object.keys(spec.metadata)) assert.ok(page.includes(`  - \`${key}\`: `), `${type}.${key}`);
    }
  });
});
