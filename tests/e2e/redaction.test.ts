/**
 * Secrets never enter audit events (invariant 7), tested by attack on SQLite and PostgreSQL:
 * unique secrets are planted through realistic calls, failures included — an argument the contract
 * marks secret (on a call that succeeds, one refused by RBAC and one refused by validation), API
 * keys (valid and forged), bearer tokens (valid and forged), a forged refresh token, a password and an OAuth token in sign-in attempts, and the SIEM webhook's HMAC key —
 * then every stored audit row is read straight from the database, with every dead letter and every
 * message forwarded to syslog and the webhook, and every audit export (JSONL with and without
 * proofs, CSV, CEF, OCSF), and none may contain any planted secret.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { SessionService, ToolService } from "@aesp/proto/client";
import { loadHostConfig } from "@aesp/host";
import { assertRefused, postgresUrl, refusalOf, startTestHost, textStatsContract } from "../support/harness.ts";
import type { StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawRuntime } from "../support/raw-runtime.ts";
import { createTestPki, eventually, startSyslogReceiver, startWebhookReceiver } from "../support/siem-receivers.ts";
import type { SyslogReceiver, TestPki, WebhookReceiver } from "../support/siem-receivers.ts";

/** A value that cannot occur anywhere by chance. */
const plant = (label: string) => `PLANTED${label}${randomBytes(12).toString("hex")}`;

const vaultContract = {
  ...textStatsContract,
  name: "vault_stats",
  description: "Counts words; takes a secret token too.",
  parameters: { type: 6, properties: { text: { type: 1, maxLength: 10_000 }, api_token: { type: 1, secret: true } }, required: ["text"] },
};

/** Every row of the audit tables and the dead-letter table, as text, read with the database's own driver. */
async function readStoredRows(t: TestHost): Promise<string[]> {
  const config = await loadHostConfig({ flags: await t.storeFlags(), env: {} });
  const tables = ["audit_events", "audit_checkpoints", "siem_dead_letters"];
  const rows: string[] = [];
  if (t.kind === "sqlite") {
    const db = new Database(config.sqlitePath, { readonly: true });
    try {
      for (const table of tables) for (const row of db.prepare(`select * from ${table}`).all()) rows.push(JSON.stringify(row));
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      for (const table of tables) {
        const result = await client.query(`select * from "${config.values["storage.postgres_schema"]}".${table}`);
        for (const row of result.rows) rows.push(JSON.stringify(row));
      }
    } finally {
      await client.end();
    }
  }
  return rows;
}

let pki: TestPki;
let secretsDir: string;

before(async () => {
  pki = await createTestPki("AESP redaction test CA");
  secretsDir = await mkdtemp(path.join(tmpdir(), "aesp-redaction-"));
});

after(async () => {
  await pki?.remove();
  await rm(secretsDir, { recursive: true, force: true });
});

for (const kind of ["sqlite", "postgres"] satisfies StorageKind[]) {
  void describe(`redaction sweep on ${kind}`, () => {
    let t: TestHost;
    let syslog: SyslogReceiver;
    let webhook: WebhookReceiver;
    let runtime: RawRuntime | undefined;
    const hmacSecret = plant("HMAC");

    before(async () => {
      await writeFile(path.join(secretsDir, `hmac-${kind}`), hmacSecret);
      syslog = await startSyslogReceiver(pki);
      webhook = await startWebhookReceiver(hmacSecret);
      t = await startTestHost(kind, {
        "siem.syslog.address": `127.0.0.1:${String(syslog.port)}`,
        "siem.syslog.ca_file": pki.caFile,
        "siem.webhook.url": `${webhook.url}/siem`,
        "siem.webhook.secret": `file:${path.join(secretsDir, `hmac-${kind}`)}`,
        "siem.retry_base_ms": 5,
      });
    });

    after(async () => {
      runtime?.close();
      await t?.stop();
      await syslog?.close();
      await webhook?.close();
    });

    test("no planted secret appears in any stored audit row, dead letter, or forwarded syslog or webhook message", async () => {
      const secrets: string[] = [hmacSecret];
      const keep = (...values: (string | undefined)[]) => {
        for (const value of values) if (value !== undefined && value !== "") secrets.push(value);
      };
      const acme = await t.tenant("acme");
      keep(acme.apiKey, acme.token);
      const approver = await t.actor("approver", ["approver"], acme);
      const agent = await t.actor("agent", ["agent"], acme);
      keep(approver.apiKey, approver.token, agent.apiKey, agent.token);
      await t.activate(vaultContract, acme, approver);
      // The same arguments behind a role the agent lacks: RBAC refuses the call.
      await t.activate({ ...vaultContract, name: "vault_finance", requiredRoles: ["finance"] }, acme, approver);
      const credentials = await t.enroll(acme, "vault-runtime", ["*"]);
      keep(credentials.privateKeyPem.split("\n")[1]);
      runtime = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials,
        contracts: ["vault_stats@1.0.0"],
        handlers: { "vault_stats@1.0.0": async (call) => {
          const text = call.call?.args?.["text"];
          return { words: 1, characters: typeof text === "string" ? text.length : 0 };
        } },
      });

      // An argument the contract marks secret: a call that succeeds, one RBAC refuses, one validation refuses.
      const argSecret = [plant("ARG"), plant("ARG"), plant("ARG")];
      // A control: the same call's non-secret argument, which must be found where the secret is not.
      const visible = plant("VISIBLE");
      keep(...argSecret);
      const { sessionId } = await agent.client(SessionService).createSession({});
      const ok = await agent.client(ToolService).invokeTool({ sessionId, call: { name: "vault_stats", args: { text: visible, api_token: argSecret[0]! } } });
      assert.equal(ok.result?.status, ResultStatus.SUCCESS);
      await assertRefused(agent.client(ToolService).invokeTool({ sessionId, call: { name: "vault_finance", args: { text: "x", api_token: argSecret[1]! } } }), "AUTHORIZATION_DENIED", Code.PermissionDenied);
      const invalid = await refusalOf(agent.client(ToolService).invokeTool({ sessionId, call: { name: "vault_stats", args: { text: 42, api_token: argSecret[2]! } } }));
      assert.equal(invalid.error?.code, "PARAMETER_VALIDATION_FAILED");

      // Credentials presented in failed sign-ins: a forged API key, a malformed one, a forged bearer token.
      const anonymous = createClient(EnterpriseAuthenticationService, t.anonymous);
      const forgedKey = `aesp.acme.key_${randomBytes(6).toString("hex")}.${plant("APIKEY")}`;
      const malformedKey = plant("MALFORMED");
      keep(forgedKey.split(".").at(-1), malformedKey);
      await assertRefused(anonymous.authenticateServiceAccount({ credential: { case: "apiKey", value: forgedKey } }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      await assertRefused(anonymous.authenticateServiceAccount({ credential: { case: "apiKey", value: malformedKey } }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      const forgedBearer = plant("BEARER");
      keep(forgedBearer);
      const forgedTransport = createConnectTransport({ baseUrl: t.host.gatewayUrl, httpVersion: "2", nodeOptions: { ca: t.host.caCertificatePem }, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${forgedBearer}`), next(req))] });
      await assertRefused(createClient(SessionService, forgedTransport).createSession({}), "AUTHENTICATION_FAILED", Code.Unauthenticated);

      // Tokens of a sign-in, and a forged refresh token (service accounts get no refresh token; a
      // person's sign-in needs an identity provider, covered by the identity tests).
      const signedIn = await anonymous.authenticateServiceAccount({ credential: { case: "apiKey", value: agent.apiKey } });
      keep(signedIn.accessToken);
      const forgedRefresh = plant("REFRESH");
      keep(forgedRefresh);
      await refusalOf(anonymous.refreshToken({ refreshToken: forgedRefresh }));

      // A password and an OAuth token in user sign-ins (no provider is configured: they fail).
      const password = plant("PASSWORD");
      const oauthToken = plant("OAUTH");
      keep(password, oauthToken);
      await refusalOf(anonymous.authenticateUser({ tenantId: "acme", credential: { case: "usernamePassword", value: { username: "alice", password } } }));
      await refusalOf(anonymous.authenticateUser({ tenantId: "acme", credential: { case: "oauthToken", value: { provider: "corp", accessToken: oauthToken, idToken: oauthToken } } }));

      // Make the webhook drop some deliveries so dead letters are written and searched too.
      webhook.mode = "fail";
      await assertRefused(anonymous.authenticateServiceAccount({ credential: { case: "apiKey", value: malformedKey } }), "AUTHENTICATION_FAILED", Code.Unauthenticated);
      const rows = await eventually(() => readStoredRows(t), (all) => all.some((row) => row.includes("PLANTED") === false && row.includes('"destination":"webhook"')));
      webhook.mode = "ok";

      // Everything committed so far has reached syslog and the webhook (or its dead letters).
      const stored = await readStoredRows(t);
      const auditRows = stored.filter((row) => row.includes("event_type"));
      assert.ok(auditRows.length >= 20, `read ${String(auditRows.length)} audit rows`);
      await eventually(() => syslog.messages.length >= auditRows.length - 2);
      assert.ok(rows.length > 0);
      assert.ok(auditRows.some((row) => row.includes("[REDACTED]")), "the secret argument was recorded, redacted");

      // Exports in every format (a platform auditor's, so every tenant's events are in them).
      const exporter = (await t.actor("redaction-auditor", ["platform-auditor"])).client(EnterpriseAuditService);
      const exports: string[] = [];
      for (const [format, includeProofs] of [["JSONL", true], ["JSONL", false], ["CSV", false], ["CEF", false], ["OCSF", false]] as const) {
        let text = "";
        for await (const chunk of exporter.exportAuditLogs({ format, includeProofs })) text += new TextDecoder().decode(chunk.data);
        exports.push(text);
        assert.ok(text.includes(visible), `the ${format}${includeProofs ? " verifiable" : ""} export carries recorded arguments, so the search reaches them`);
      }
      const haystacks: [string, string[]][] = [
        ["stored row", stored],
        ["export", exports],
        ["syslog message", syslog.messages],
        ["webhook delivery", webhook.deliveries.map((d) => JSON.stringify(d.body))],
      ];
      for (const [where, texts] of haystacks) assert.ok(texts.some((text) => text.includes(visible)), `the search reaches arguments in every ${where}`);
      for (const secret of secrets) {
        assert.ok(secret.length >= 16, "a planted secret is long enough to be unmistakable");
        for (const [where, texts] of haystacks) {
          const leak = texts.find((text) => text.includes(secret));
          assert.equal(leak, undefined, `a secret (${secret.slice(0, 12)}…) leaked into a ${where}`);
        }
      }
    });
  });
}
