/**
 * SIEM forwarding and real-time detection with a real Host (SQLite and PostgreSQL), a real syslog
 * collector over TLS 1.3 with its own CA, and real webhook receivers on loopback: events arrive
 * and their signatures verify; a receiver that fails then recovers gets them by retry; one that
 * stays down fills the dead-letter store, and replay delivers them; a receiver that never answers
 * does not hold up calls (the queue stays bounded and overflows into dead letters); a collector
 * with a certificate from another CA is refused; denials above the threshold raise a signed alert,
 * a chat message and an `alert.raised` audit event.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, createClient } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import type { AuditRecord } from "@aesp/core";
import { startHost } from "@aesp/host";
import { SyslogTlsSender } from "../../packages/host/src/audit/forwarding/syslog-sender.ts";
import { assertRefused, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";
import { createTestPki, eventually, metricValue, startSyslogReceiver, startWebhookReceiver } from "../support/siem-receivers.ts";
import type { SyslogReceiver, TestPki, WebhookDelivery, WebhookReceiver } from "../support/siem-receivers.ts";

const SIEM_SECRET = "siem-hmac-secret-0123456789abcdef";
const ALERT_SECRET = "alert-hmac-secret-0123456789abcdef";
const QUEUE_SIZE = 40;
const BATCH_SIZE = 10;

/** Events carried by a webhook delivery. */
function eventsOf(delivery: WebhookDelivery): AuditRecord[] {
  const body = delivery.body as { events?: AuditRecord[] } | undefined;
  return body?.events ?? [];
}

/** The JSON record after the BOM of an RFC 5424 message. */
function recordOfSyslog(message: string): AuditRecord {
  return JSON.parse(message.slice(message.indexOf("\uFEFF") + 1)) as AuditRecord;
}

let pki: TestPki;
let otherPki: TestPki;
let secretsDir: string;

before(async () => {
  pki = await createTestPki("AESP test SIEM CA");
  otherPki = await createTestPki("Unrelated CA");
  secretsDir = await mkdtemp(path.join(tmpdir(), "aesp-siem-secrets-"));
  await writeFile(path.join(secretsDir, "siem"), `${SIEM_SECRET}\n`, { mode: 0o600 });
  await writeFile(path.join(secretsDir, "alert"), ALERT_SECRET, { mode: 0o600 });
});

after(async () => {
  await pki?.remove();
  await otherPki?.remove();
  await rm(secretsDir, { recursive: true, force: true });
});

for (const kind of ["sqlite", "postgres"] satisfies StorageKind[]) {
  void describe(`SIEM forwarding and detection on ${kind}`, () => {
    let t: TestHost;
    let syslog: SyslogReceiver;
    let siemHook: WebhookReceiver;
    let alertHook: WebhookReceiver;
    let chat: WebhookReceiver;
    let acme: Actor;

    before(async () => {
      syslog = await startSyslogReceiver(pki);
      siemHook = await startWebhookReceiver(SIEM_SECRET);
      alertHook = await startWebhookReceiver(ALERT_SECRET);
      chat = await startWebhookReceiver("unused-chat-is-not-signed");
      await writeFile(path.join(secretsDir, `chat-${kind}`), `${chat.url}/services/T000/B000/XXXX`);
      t = await startTestHost(kind, {
        "siem.syslog.address": `127.0.0.1:${String(syslog.port)}`,
        "siem.syslog.ca_file": pki.caFile,
        "siem.webhook.url": `${siemHook.url}/siem`,
        "siem.webhook.secret": `file:${path.join(secretsDir, "siem")}`,
        "siem.max_attempts": 3,
        "siem.retry_base_ms": 5,
        "siem.retry_max_ms": 20,
        "siem.queue_size": QUEUE_SIZE,
        "siem.batch_size": BATCH_SIZE,
        "alerts.webhook.url": `${alertHook.url}/alerts`,
        "alerts.webhook.secret": `file:${path.join(secretsDir, "alert")}`,
        "alerts.chat.url": `file:${path.join(secretsDir, `chat-${kind}`)}`,
        "alerts.retry_base_ms": 5,
        "alerts.denials_threshold": 3,
        "alerts.denials_window_seconds": 600,
      });
      acme = await t.tenant("acme");
    });

    after(async () => {
      siemHook?.release();
      await t?.stop();
      await syslog?.close();
      await siemHook?.close();
      await alertHook?.close();
      await chat?.close();
    });

    /** Creates a service account and returns its `service_account.created` record, once forwarded to syslog. */
    const newAccount = async (name: string): Promise<AuditRecord> => {
      const created = await acme.client(EnterpriseIdentityService).createServiceAccount({ name, roles: ["agent"] });
      if (created.responseType.case !== "successDetails") throw new Error("service account not created");
      const resource = `principal:${created.responseType.value.serviceAccountId}`;
      const message = await eventually(() => syslog.messages.find((m) => m.includes("service_account.created") && recordOfSyslog(m).resource === resource));
      return recordOfSyslog(message);
    };

    test("committed events reach the syslog collector (RFC 5424 over TLS 1.3) and the webhook, signed", async () => {
      const created = await newAccount("siem-probe");
      const message = syslog.messages.find((m) => recordOfSyslog(m).eventId === created.eventId)!;
      assert.match(message, /^<110>1 \S+ \S+ aesp-host \d+ service_account\.created \[aesp@32473 event_id="evt_[^"]+" seq="\d+"/);
      assert.equal(created.tenantId, "acme");
      assert.ok(syslog.protocols.every((p) => p === "TLSv1.3"), `negotiated ${syslog.protocols.join(",")}`);

      const delivery = await eventually(() => siemHook.deliveries.find((d) => eventsOf(d).some((e) => e.eventId === created.eventId)));
      assert.equal(delivery.verification, "ok");
      assert.equal(delivery.path, "/siem");
      assert.match(delivery.deliveryId, /^dlv_/);
      assert.deepEqual(eventsOf(delivery).find((e) => e.eventId === created.eventId), created, "both destinations carry the same record");
    });

    test("a webhook receiver that fails, then recovers, gets the events by retry under one delivery id", async () => {
      siemHook.failNext(2);
      const created = await newAccount("retry-probe");
      const ok = await eventually(() => siemHook.deliveries.find((d) => d.status === 200 && eventsOf(d).some((e) => e.eventId === created.eventId)));
      const attempts = siemHook.deliveries.filter((d) => d.deliveryId === ok.deliveryId);
      assert.deepEqual(attempts.map((d) => d.status), [503, 503, 200]);
      assert.ok(attempts.every((d) => d.verification === "ok"), "every retry is signed afresh");
    });

    test("a receiver down for good fills the dead-letter store; replay delivers them; only a platform admin may list or replay", async () => {
      const audit = t.admin.client(EnterpriseAuditService);
      siemHook.mode = "fail";
      const created = await newAccount("dead-letter-probe");
      const listed = await eventually(
        () => audit.listDeadLetters({ destination: "webhook" }),
        (page) => page.deadLetters.some((l) => Number(l.firstSeq) <= created.seq && created.seq <= Number(l.lastSeq)),
      );
      const letter = listed.deadLetters.find((l) => Number(l.firstSeq) <= created.seq && created.seq <= Number(l.lastSeq))!;
      assert.equal(letter.attempts, 3);
      assert.equal(letter.reason, "HTTP 503");
      assert.ok(await metricValue(t.host.gatewayUrl, t.host.caCertificatePem, "aesp_siem_dead_lettered_total", { destination: "webhook" }) >= 1);

      await assertRefused(acme.client(EnterpriseAuditService).listDeadLetters({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      await assertRefused(acme.client(EnterpriseAuditService).replayDeadLetters({}), "AUTHORIZATION_DENIED", Code.PermissionDenied);

      const failedAgain = await audit.replayDeadLetters({ destination: "webhook", deadLetterIds: [letter.deadLetterId] });
      assert.deepEqual([failedAgain.replayed, failedAgain.failed, failedAgain.firstFailure], [0, 1, "HTTP 503"], "still down: kept");

      siemHook.mode = "ok";
      const replayed = await audit.replayDeadLetters({ destination: "webhook", limit: 1000 });
      assert.equal(replayed.failed, 0);
      assert.ok(replayed.replayed >= 1);
      const delivered = siemHook.deliveries.find((d) => d.status === 200 && d.deliveryId === letter.deadLetterId);
      assert.ok(delivered !== undefined, "replayed under the dead letter's id");
      assert.equal(delivered.verification, "ok");
      assert.ok(eventsOf(delivered).some((e) => e.eventId === created.eventId));
      assert.equal((await audit.listDeadLetters({ destination: "webhook" })).total, 0n);
      const replayEvents = await t.admin.client(EnterpriseAuditService).queryEvents({ eventTypes: ["siem.dead_letters_replayed"] });
      assert.ok(replayEvents.events.length >= 2, "each replay is audited");
    });

    test("a receiver that never answers does not hold up calls: the queue stays bounded and overflows into dead letters", async () => {
      siemHook.mode = "hang";
      const anonymous = createClient(EnterpriseAuthenticationService, t.anonymous);
      const before = await metricValue(t.host.gatewayUrl, t.host.caCertificatePem, "aesp_siem_dead_lettered_total", { destination: "webhook" });
      // Each refused sign-in is answered only after its authn.failed event is durable.
      for (let i = 0; i < 100; i++) {
        await assertRefused(anonymous.authenticateServiceAccount({ credential: { case: "apiKey", value: `not-a-key-${String(i)}` } }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      }
      assert.ok(siemHook.held >= 1, "the webhook holds a delivery without answering");
      const depth = await metricValue(t.host.gatewayUrl, t.host.caCertificatePem, "aesp_siem_queue_depth", { destination: "webhook" });
      assert.ok(depth <= QUEUE_SIZE + BATCH_SIZE, `queue depth ${String(depth)} stays within queue_size + one batch`);
      const overflow = await eventually(
        () => metricValue(t.host.gatewayUrl, t.host.caCertificatePem, "aesp_siem_dead_lettered_total", { destination: "webhook" }),
        (n) => n - before >= 100 - QUEUE_SIZE - BATCH_SIZE,
      );
      assert.ok(overflow > before);
      const full = await t.admin.client(EnterpriseAuditService).listDeadLetters({ destination: "webhook", limit: 1000 });
      assert.ok(full.deadLetters.some((l) => l.reason === "the delivery queue was full" && l.attempts === 0));
      // Syslog has its own queue: it kept up regardless.
      await eventually(() => syslog.messages.filter((m) => m.includes("authn.failed")).length >= 100);
      siemHook.mode = "ok";
      siemHook.release();
      await t.admin.client(EnterpriseAuditService).replayDeadLetters({ destination: "webhook", limit: 1000 });
    });

    test("denials above the threshold raise a signed webhook alert, a chat message and an alert.raised audit event", async () => {
      const approver = await t.actor("approver", ["approver"], acme);
      await t.activate({ ...textStatsContract, name: "ledger", description: "Finance only.", requiredRoles: ["finance"] }, acme, approver);
      const intruder = await t.actor("intruder", ["agent"], acme);
      const { sessionId } = await intruder.client(SessionService).createSession({});
      for (let i = 0; i < 3; i++) {
        await assertRefused(intruder.client(ToolService).invokeTool({ sessionId, call: { name: "ledger", args: { text: "x" } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      }
      const alert = await eventually(() =>
        alertHook.deliveries.find((d) => {
          const body = d.body as { alert?: { kind?: string; principal_id?: string } } | undefined;
          return body?.alert?.kind === "detection.denials" && body.alert.principal_id === intruder.principalId;
        }),
      );
      assert.equal(alert.verification, "ok");
      assert.equal(alert.path, "/alerts");
      const payload = (alert.body as { alert: { severity: string; tenant_id: string; detail: Record<string, string> } }).alert;
      assert.equal(payload.severity, "HIGH");
      assert.equal(payload.tenant_id, "acme");
      assert.equal(payload.detail["count"], "3");

      const message = await eventually(() => chat.deliveries.find((d) => JSON.stringify(d.body).includes(intruder.principalId)));
      assert.equal(message.path, "/services/T000/B000/XXXX");
      const chatBody = message.body as { text: string; blocks: unknown[] };
      assert.match(chatBody.text, /\[HIGH\]/);
      assert.ok(Array.isArray(chatBody.blocks) && chatBody.blocks.length > 0);

      const raised = await eventually(
        () => acme.client(EnterpriseAuditService).queryEvents({ eventTypes: ["alert.raised"], principalId: intruder.principalId }),
        (page) => page.events.length > 0,
      );
      assert.equal(raised.events.length, 1, "one alert for the burst, and the alert.raised event did not trigger another");
      assert.equal(raised.events[0]?.resource, "rule:denials");
      assert.equal(raised.events[0]?.metadata["trigger_event_type"], "authz.denied");
    });
  });
}

void describe("SIEM transport security and configuration", () => {
  const identity = { hostname: "h", appName: "aesp-host", procId: "1", enterpriseId: 32473 };
  const record: AuditRecord = {
    eventId: "evt_x",
    seq: 0,
    eventType: "authn.failed",
    timestampMs: 0,
    tenantId: "",
    principalId: "",
    sessionId: "",
    resource: "",
    action: "authenticate",
    outcome: "DENIED",
    sourceIp: "",
    userAgent: "",
    correlationId: "",
    riskScore: "",
    policyViolations: [],
    metadata: {},
    leafHash: "",
    chainHash: "",
  };

  test("a collector whose certificate another CA issued is refused, and receives nothing", async () => {
    const receiver = await startSyslogReceiver(otherPki);
    try {
      const sender = new SyslogTlsSender({ host: "127.0.0.1", port: receiver.port, ca: pki.caPem, minVersion: "TLSv1.3", timeoutMs: 10_000, identity });
      await assert.rejects(sender.send([record]), (err: Error) => err.name === "DeliveryError" && /CERT|SIGNATURE|ISSUER|SELF_SIGNED/i.test(err.message));
      assert.deepEqual(receiver.messages, []);
    } finally {
      await receiver.close();
    }
  });

  test("a TLS 1.2-only collector is refused by default and accepted only when siem.syslog.tls_min_version allows it", async () => {
    const receiver = await startSyslogReceiver(pki, { maxVersion: "TLSv1.2" });
    try {
      const strict = new SyslogTlsSender({ host: "127.0.0.1", port: receiver.port, ca: pki.caPem, minVersion: "TLSv1.3", timeoutMs: 10_000, identity });
      await assert.rejects(strict.send([record]), (err: Error) => err.name === "DeliveryError");
      const lenient = new SyslogTlsSender({ host: "127.0.0.1", port: receiver.port, ca: pki.caPem, minVersion: "TLSv1.2", timeoutMs: 10_000, identity });
      await lenient.send([record]);
      lenient.close();
      await eventually(() => receiver.messages.length === 1);
      assert.deepEqual(receiver.protocols.filter((p) => p !== ""), ["TLSv1.2"]);
    } finally {
      await receiver.close();
    }
  });

  test("bad SIEM configuration stops the start with a clear error that never quotes the secret", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "aesp-siem-config-"));
    try {
      const start = (flags: Record<string, unknown>) => startHost({ flags: { data_dir: dataDir, "gateway.port": 0, "runtime_plane.port": 0, ...flags }, env: {}, logDestination: "silent" });
      const literal = "literal-secret-value-0123456789";
      await assert.rejects(start({ "siem.webhook.url": "https://siem.example.com/in", "siem.webhook.secret": literal }), (err: Error & { code?: string }) => {
        assert.equal(err.code, "INVALID_ARGUMENT");
        assert.match(err.message, /siem\.webhook\.secret/);
        assert.doesNotMatch(err.message, new RegExp(literal));
        return true;
      });
      await assert.rejects(start({ "siem.webhook.url": "https://siem.example.com/in" }), /siem\.webhook\.secret/);
      await assert.rejects(start({ "siem.webhook.url": "http://siem.example.com/in", "siem.webhook.secret": "env:X" }), /https/);
      await assert.rejects(start({ "siem.syslog.address": "no-port" }), /host:port/);
      await assert.rejects(start({ "siem.syslog.address": "127.0.0.1:6514", "siem.syslog.ca_file": path.join(dataDir, "missing.pem") }), /siem\.syslog\.ca_file/);
      await assert.rejects(start({ "alerts.disabled_rules": "denials,nonsense" }), /nonsense/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
