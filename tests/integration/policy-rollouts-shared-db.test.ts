/**
 * Policy rollouts on two Hosts sharing one PostgreSQL database (each with its own Store, tenant
 * directory, audit log, alert dispatcher and rollout counter): a rollout started on one Host is
 * decided by the other on its next call; counts from both Hosts add up in the store and the
 * threshold is checked on the combined totals; when both flush at once, exactly one rolls back,
 * audits and alerts; afterwards neither Host decides the candidate any more.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import pino from "pino";
import { GovernanceService, PolicyRollouts, TenantDirectory, provisionTenant } from "@aesp/core";
import type { Alert, PolicyRecord, RequestOrigin, SecurityContext, Store } from "@aesp/core";
import { AuditLog } from "@aesp/core/audit";
import { AlertDispatcher } from "../../packages/host/src/alerts/alert-dispatcher.ts";
import { auditRecorder } from "../../packages/host/src/audit/recorder.ts";
import { createEd25519Signer, nodeHasher, nodeIdSource, systemClock } from "../../packages/host/src/crypto/node-crypto-ports.ts";
import { HostMetrics } from "../../packages/host/src/observability/metrics.ts";
import { openStore } from "../../packages/host/src/storage/index.ts";
import { postgresUrl } from "../support/harness.ts";

const TENANT = "acme";
const origin: RequestOrigin = { sourceIp: "192.0.2.10", userAgent: "test", correlationId: "cor_test" };
const author: SecurityContext = {
  principalId: "usr_author",
  tenantId: TENANT,
  principalType: "USER",
  displayName: "Author",
  roles: ["tenant-admin"],
  permissions: ["*"],
  clearance: "restricted",
  attributes: {},
  claims: {},
  tokenId: "tok_1",
  tokenExpiresAt: Number.MAX_SAFE_INTEGER,
};

function policy(version: number, status: PolicyRecord["status"], limit: number): PolicyRecord {
  return {
    tenantId: TENANT,
    policyId: "cap",
    name: "cap",
    description: "",
    version,
    rule: { condition: `size(args.text) > ${limit}`, effect: "DENY", actions: [], parameters: {} },
    appliesTo: [],
    enabled: true,
    status,
    createdBy: "usr_author",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}

interface TestHostParts {
  readonly store: Store;
  readonly tenants: TenantDirectory;
  readonly rollouts: PolicyRollouts;
  readonly auditLog: AuditLog;
  readonly dispatcher: AlertDispatcher;
}

void describe("policy rollouts on two Hosts sharing PostgreSQL", () => {
  const schema = `aesp_rollout_${randomBytes(6).toString("hex")}`;
  const alerts: Alert[] = [];
  const hosts: TestHostParts[] = [];

  async function host(name: string): Promise<TestHostParts> {
    const store = await openStore({ kind: "postgres", connectionString: postgresUrl, schema, poolSize: 4 });
    const { privateKey } = generateKeyPairSync("ed25519");
    const auditLog = new AuditLog(
      { store: store.platform.auditLog, hasher: nodeHasher, signer: createEd25519Signer(`audit-${name}`, privateKey), clock: systemClock, ids: nodeIdSource, gatherBatch: () => new Promise<void>((resolve) => setImmediate(resolve)) },
      { origin: "policy-rollouts.test/audit", checkpointEvery: 0 },
    );
    await auditLog.open();
    const audit = auditRecorder(auditLog, new HostMetrics());
    const tenants = new TenantDirectory({ store, clock: systemClock });
    const governance = new GovernanceService({ store, clock: systemClock, ids: nodeIdSource, audit, tenants, options: { defaultExpirySeconds: 3600, defaultApprovers: ["role:approver"] } });
    const dispatcher = new AlertDispatcher({ logger: pino({ level: "silent" }), connectors: [{ name: `record-${name}`, deliver: async (alert) => void alerts.push(alert) }] });
    // flushEvery is high: the test decides when each Host flushes.
    const rollouts = new PolicyRollouts({ store, clock: systemClock, ids: nodeIdSource, audit, tenants, governance, alerts: dispatcher, options: { flushEvery: 1_000_000 }, onError: (error) => assert.fail(String(error)) });
    const parts = { store, tenants, rollouts, auditLog, dispatcher };
    hosts.push(parts);
    return parts;
  }

  let one: TestHostParts;
  let two: TestHostParts;

  before(async () => {
    one = await host("one");
    two = await host("two");
    await provisionTenant(one.store, { tenantId: TENANT, displayName: "Acme", now: systemClock.now() });
    const policies = one.store.forTenant(TENANT).policies;
    await policies.create(policy(1, "ACTIVE", 20));
    await policies.create(policy(2, "DRAFT", 10));
    await policies.create(policy(3, "DRAFT", 5));
  });

  after(async () => {
    for (const parts of hosts) {
      await parts.auditLog.close();
      await parts.store.close();
    }
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });

  async function rolledBackEvents(rolloutId: string): Promise<number> {
    const events = await one.store.forTenant(TENANT).audit.query({ eventTypes: ["policy.rollout_rolled_back"], limit: 100 });
    return events.filter((event) => event.metadata["rollout_id"] === rolloutId).length;
  }

  it("counts both Hosts' calls in the stored totals and rolls back on the combined rate, once", async () => {
    assert.equal((await two.tenants.currentSnapshot(TENANT))?.rollout ?? null, null);
    const started = await one.rollouts.start(author, origin, { policyId: "cap", version: 2, mode: "SHADOW", percent: 0, principals: [], threshold: 0.1, minSamples: 50, endsAt: 0, justification: "" });
    const seen = await two.tenants.currentSnapshot(TENANT);
    assert.equal(seen?.rollout?.record.rolloutId, started.rolloutId, "the other Host decides the candidate from its next call");

    // Each Host alone is below the minimum sample; together they pass it, above the threshold.
    for (let i = 0; i < 30; i++) one.rollouts.observe(TENANT, started.rolloutId, i < 4);
    for (let i = 0; i < 30; i++) two.rollouts.observe(TENANT, started.rolloutId, i < 4);
    await one.rollouts.flush();
    const afterOne = await one.store.forTenant(TENANT).policyRollouts.get(started.rolloutId);
    assert.deepEqual([afterOne?.status, afterOne?.evaluated, afterOne?.disagreements], ["RUNNING", 30, 4]);
    await two.rollouts.flush();
    const ended = await one.store.forTenant(TENANT).policyRollouts.get(started.rolloutId);
    assert.deepEqual([ended?.status, ended?.evaluated, ended?.disagreements], ["ROLLED_BACK", 60, 8]);

    // Counts arriving after the rollback change nothing.
    for (let i = 0; i < 10; i++) one.rollouts.observe(TENANT, started.rolloutId, true);
    await one.rollouts.flush();
    assert.equal((await two.store.forTenant(TENANT).policyRollouts.get(started.rolloutId))?.evaluated, 60);
    assert.equal(await rolledBackEvents(started.rolloutId), 1);
    assert.equal((await one.tenants.currentSnapshot(TENANT))?.rollout ?? null, null, "the first Host stops deciding the candidate too");
  });

  it("when both Hosts flush past the threshold at once, exactly one rolls back, audits and alerts", async () => {
    const alertsBefore = alerts.length;
    const started = await two.rollouts.start(author, origin, { policyId: "cap", version: 3, mode: "SHADOW", percent: 0, principals: [], threshold: 0.05, minSamples: 10, endsAt: 0, justification: "" });
    for (let i = 0; i < 20; i++) one.rollouts.observe(TENANT, started.rolloutId, true);
    for (let i = 0; i < 20; i++) two.rollouts.observe(TENANT, started.rolloutId, true);
    await Promise.all([one.rollouts.flush(), two.rollouts.flush()]);
    const ended = await one.store.forTenant(TENANT).policyRollouts.get(started.rolloutId);
    assert.equal(ended?.status, "ROLLED_BACK");
    // 20 when one Host's batch alone rolled it back before the other's arrived (which then adds nothing), 40 otherwise.
    assert.ok(ended?.evaluated === 20 || ended?.evaluated === 40, `evaluated ${ended?.evaluated}`);
    assert.equal(await rolledBackEvents(started.rolloutId), 1);
    // Alert delivery is in the background; the dispatchers' drain waits for it.
    await Promise.all(hosts.map((parts) => parts.dispatcher.drain()));
    const raised = alerts.slice(alertsBefore).filter((alert) => alert.detail["rollout_id"] === started.rolloutId);
    assert.equal(raised.length, 1);
    assert.deepEqual([raised[0]?.kind, raised[0]?.severity, raised[0]?.tenantId], ["policy.rollout_rolled_back", "HIGH", TENANT]);
  });
});
