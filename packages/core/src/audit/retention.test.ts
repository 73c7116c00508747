import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { AuditCheckpointRecord, AuditLegalHoldRecord, AuditRecord } from "../records.ts";
import { linkRecords } from "./canonical.ts";
import { signCheckpoint } from "./checkpoint.ts";
import { ZERO_HASH_HEX, toHex } from "./encoding.ts";
import { merkleRoot } from "./merkle.ts";
import {
  DAY_MS,
  ERASED,
  SEALED_PREFIX,
  SECURITY_FLOOR_TYPES,
  checkRetentionRule,
  holdCoveringSubject,
  mapPersonalFields,
  personalFields,
  retentionPlan,
  sealedKeyIds,
} from "./retention.ts";
import { verifyAuditLog } from "./verify.ts";
import { buildLog, draft, ed25519Signer, ed25519Verifier, sha256 } from "./test-kit.test.ts";

const ORIGIN = "aesp.test/audit";
const signer = ed25519Signer("audit");

/** What the store leaves of a record when retention removes it. */
function tombstone(record: AuditRecord): AuditRecord {
  return {
    ...record,
    principalId: "",
    sessionId: "",
    resource: "",
    action: "",
    sourceIp: "",
    userAgent: "",
    correlationId: "",
    riskScore: "",
    policyViolations: [],
    metadata: {},
    tombstone: "retention",
  };
}

async function checkpointOf(records: readonly AuditRecord[], size: number): Promise<AuditCheckpointRecord> {
  const rootHash = toHex(merkleRoot(records.slice(0, size).map((r) => Buffer.from(r.leafHash, "hex")), sha256));
  const chainHash = records[size - 1]!.chainHash;
  const signedNote = await signCheckpoint({ origin: ORIGIN, treeSize: size, rootHash, chainHash }, signer, sha256);
  return { treeSize: size, rootHash, chainHash, signedNote, keyId: signer.keyId, createdAt: 0 };
}

async function verify(records: AuditRecord[], checkpoints: AuditCheckpointRecord[]) {
  return verifyAuditLog({ records, checkpoints, trustedKeys: [{ keyName: ORIGIN, publicKey: signer.publicKey }], hasher: sha256, verifier: ed25519Verifier, origin: ORIGIN });
}

describe("verification with tombstones", () => {
  it("accepts tombstoned records by their stored leaf hash and counts them", async () => {
    const records = buildLog(30);
    const checkpoints = [await checkpointOf(records, 20), await checkpointOf(records, 30)];
    for (const seq of [3, 4, 5, 17]) records[seq] = tombstone(records[seq]!);
    const result = await verify(records, checkpoints);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.ok && result.tombstones, 4);
    assert.equal(result.ok && result.size, 30);
  });

  it("still names a tampered record next to a tombstone", async () => {
    const records = buildLog(30);
    const checkpoints = [await checkpointOf(records, 30)];
    records[10] = tombstone(records[10]!);
    records[11] = { ...records[11]!, resource: "tenant:other" };
    const result = await verify(records, checkpoints);
    assert.deepEqual(result, { ok: false, firstBadSeq: 11, eventId: "evt_11", reason: "leaf hash mismatch (event modified)" });
  });

  it("refuses a tombstone whose stored leaf hash was replaced, by the chain", async () => {
    const records = buildLog(30);
    records[8] = { ...tombstone(records[8]!), leafHash: toHex(new Uint8Array(32).fill(7)) };
    const result = await verify(records, []);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.firstBadSeq, 8);
    assert.equal(!result.ok && result.reason, "chain hash mismatch");
  });

  it("refuses a forged tombstone that swaps in another leaf and relinks, by the signed checkpoint", async () => {
    const records = buildLog(30);
    const checkpoints = [await checkpointOf(records, 30)];
    const forged = linkRecords({ size: 8, chainHash: records[7]!.chainHash }, [draft(999)], sha256)[0]!;
    const relinked = linkRecords({ size: 9, chainHash: forged.chainHash }, records.slice(9), sha256);
    const rewritten = [...records.slice(0, 8), tombstone({ ...forged, seq: 8 }), ...relinked];
    const result = await verify(rewritten, checkpoints);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "checkpoint root mismatch (log rewritten after signing)");
  });

  it("refuses an unknown tombstone reason as malformed", async () => {
    const records = buildLog(5);
    records[2] = { ...tombstone(records[2]!), tombstone: "whim" as "retention" };
    const result = await verify(records, []);
    assert.deepEqual(result, { ok: false, firstBadSeq: 2, eventId: "evt_2", reason: "record malformed" });
  });

  it("is unchanged for an intact log (old records have no tombstone field)", async () => {
    const records = buildLog(10);
    const result = await verify(records, []);
    assert.equal(result.ok && result.tombstones, 0);
    assert.equal(records[0]!.chainHash !== ZERO_HASH_HEX, true);
  });
});

describe("retention rules", () => {
  const floor = 365;
  const hold = (over: Partial<AuditLegalHoldRecord>): AuditLegalHoldRecord => ({
    tenantId: "t1", holdId: "h1", principalId: "", fromMs: 0, toMs: 0, reason: "case", placedBy: "u", placedAt: 0, releasedAt: null, releasedBy: "", ...over,
  });

  it("accepts *, families and exact types, and refuses anything else", () => {
    for (const pattern of ["*", "tool_call.*", "tool_call.completed"]) checkRetentionRule(pattern, 30, 0);
    for (const pattern of ["", "tool_call", "tool_call.**", "TOOL.*", "a.b.c", "*.x"]) {
      assert.throws(() => checkRetentionRule(pattern, 30, 0), (err: unknown) => err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT" && err.details["field"] === "pattern");
    }
    for (const days of [-1, 1.5, 36_501]) {
      assert.throws(() => checkRetentionRule("*", days, floor), (err: unknown) => err instanceof EnterpriseError && err.details["field"] === "retention_days");
    }
  });

  it("refuses a rule below the security floor that names security events, but not a short *", () => {
    const securityType = SECURITY_FLOOR_TYPES.find((type) => !type.startsWith("audit."))!;
    const family = securityType.slice(0, securityType.indexOf(".") + 1) + "*";
    for (const pattern of [securityType, family, "audit.*", "audit.subject_erased"]) {
      assert.throws(
        () => checkRetentionRule(pattern, floor - 1, floor),
        (err: unknown) => err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT" && err.details["minimum_days"] === String(floor),
      );
      checkRetentionRule(pattern, floor, floor);
    }
    checkRetentionRule("*", 1, floor);
  });

  it("plans one step per rule, excluding more specific rules, and keeps floor types at the floor", () => {
    const now = 1000 * DAY_MS;
    const plan = retentionPlan({
      tenantId: "t1",
      rules: [{ pattern: "*", days: 30 }, { pattern: "tool_call.*", days: 90 }, { pattern: "tool_call.completed", days: 400 }],
      holds: [hold({ principalId: "p1", fromMs: 5, toMs: 10 }), hold({ releasedAt: 1 })],
      now,
      defaultDays: 7,
      floorDays: floor,
      limit: 50,
    });
    assert.ok(plan !== null);
    assert.deepEqual(plan.holds, [{ principalId: "p1", fromMs: 5, toMs: 10 }]);
    const any = plan.steps.filter((step) => step.include.kind === "any");
    assert.equal(any.length, 2);
    assert.equal(any[0]!.beforeMs, now - 30 * DAY_MS);
    assert.deepEqual(any[0]!.exclude, [{ kind: "prefix", value: "tool_call." }, { kind: "exact", value: "tool_call.completed" }]);
    assert.equal(any[0]!.typeFilter?.mode, "exclude");
    assert.equal(any[1]!.beforeMs, now - floor * DAY_MS);
    assert.equal(any[1]!.typeFilter?.mode, "only");
    const family = plan.steps.find((step) => step.include.kind === "prefix")!;
    assert.deepEqual(family.exclude, [{ kind: "exact", value: "tool_call.completed" }]);
    const exact = plan.steps.find((step) => step.include.kind === "exact")!;
    assert.equal(exact.typeFilter, null);
    assert.equal(exact.beforeMs, now - 400 * DAY_MS);
  });

  it("uses the Host default only without a * rule, and plans nothing under a tenant-wide hold or without rules", () => {
    const base = { tenantId: "t1", holds: [], now: 0, floorDays: floor, limit: 10 };
    assert.equal(retentionPlan({ ...base, rules: [], defaultDays: 0 }), null);
    const withDefault = retentionPlan({ ...base, rules: [], defaultDays: 400 });
    assert.deepEqual(withDefault?.steps.map((s) => s.include.kind), ["any"]);
    assert.equal(retentionPlan({ ...base, rules: [{ pattern: "*", days: 400 }], defaultDays: 400, holds: [hold({})] }), null);
  });

  it("finds the hold covering a subject", () => {
    assert.equal(holdCoveringSubject([hold({ principalId: "p2" })], "p1"), undefined);
    assert.equal(holdCoveringSubject([hold({ principalId: "p1", releasedAt: 5 })], "p1"), undefined);
    assert.equal(holdCoveringSubject([hold({ principalId: "p1", fromMs: 1, toMs: 2 })], "p1")?.holdId, "h1");
    assert.equal(holdCoveringSubject([hold({})], "p1")?.holdId, "h1");
  });
});

describe("personal fields", () => {
  it("selects source IP, user agent and personal metadata of events with a subject", () => {
    const event = { ...draft(1), tenantId: "t1", principalId: "p1", sourceIp: "192.0.2.1", userAgent: "curl", metadata: { email: "a@example.com", tool: "x" } };
    assert.deepEqual(personalFields(event), ["sourceIp", "userAgent", "metadata.email"]);
    assert.deepEqual(personalFields({ ...event, principalId: "" }), []);
    const sealed = mapPersonalFields(event, (_value, field) => `${SEALED_PREFIX}k1:${field}`, personalFields(event));
    assert.equal(sealed.sourceIp, "pd1:k1:sourceIp");
    assert.equal(sealed.metadata["tool"], "x");
    assert.equal(event.sourceIp, "192.0.2.1", "the input is not mutated");
    assert.deepEqual(personalFields(sealed), [], "sealed values are not sealed twice");
    assert.deepEqual(sealedKeyIds([{ ...sealed, seq: 0, leafHash: "", chainHash: "" }]), ["k1"]);
    const revealed = mapPersonalFields(sealed, () => ERASED);
    assert.deepEqual([revealed.sourceIp, revealed.userAgent, revealed.metadata["email"], revealed.metadata["tool"]], [ERASED, ERASED, ERASED, "x"]);
  });
});
