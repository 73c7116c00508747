/**
 * Fail closed: while the audit store cannot record, governed calls are refused with
 * AUDIT_UNAVAILABLE (Connect UNAVAILABLE, with retry advice) and never reach the runtime; once the
 * store recovers, calls run again and the log still verifies offline.
 *
 * How the store is made unavailable, from outside the Host, as it happens in production:
 * - SQLite: another process holds the database's write lock (an open IMMEDIATE transaction) for
 *   longer than the Host's lock wait.
 * - PostgreSQL: the audit table refuses writes (a trigger raising an error, as a full disk or a
 *   read-only failover would).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { Code } from "@connectrpc/connect";
import { ResultStatus } from "@aesp/proto/adm";
import { SessionService, ToolService } from "@aesp/proto/client";
import { verifyAuditStore } from "@aesp/host";
import { assertRefused, postgresUrl, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, StorageKind, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawRuntime } from "../support/raw-runtime.ts";

/** Makes the Host's audit store unavailable until the returned function is called. */
type Outage = () => Promise<() => Promise<void>>;

function sqliteOutage(flags: Record<string, unknown>): Outage {
  return async () => {
    const writer = new Database(path.join(String(flags["data_dir"]), "aesp.db"));
    writer.exec("BEGIN IMMEDIATE");
    return async () => {
      writer.exec("COMMIT");
      writer.close();
    };
  };
}

function postgresOutage(flags: Record<string, unknown>): Outage {
  const schema = String(flags["storage.postgres_schema"]);
  return async () => {
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE FUNCTION ${schema}.refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$`);
      await admin.query(`CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE ON ${schema}.audit_events FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.refuse_writes()`);
    } finally {
      await admin.end();
    }
    return async () => {
      const restore = new pg.Client({ connectionString: postgresUrl });
      await restore.connect();
      try {
        await restore.query(`DROP TRIGGER refuse_writes ON ${schema}.audit_events`);
        await restore.query(`DROP FUNCTION ${schema}.refuse_writes()`);
      } finally {
        await restore.end();
      }
    };
  };
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`audit store unavailable on ${kind}: calls fail closed`, () => {
    let t: TestHost;
    let agent: Actor;
    let runtime: RawRuntime;
    let outage: Outage;
    let sessionId: string;

    before(async () => {
      t = await startTestHost(kind);
      const approver = await t.actor("approver", ["approver"]);
      agent = await t.actor("agent", ["agent"]);
      await t.activate(textStatsContract, t.admin, approver);
      const credentials = await t.enroll(t.admin, "text-tools", ["text_stats"]);
      runtime = await connectRawRuntime({
        url: t.host.runtimePlaneUrl,
        credentials,
        contracts: ["text_stats@1.0.0"],
        handlers: { "text_stats@1.0.0": async (call) => ({ words: 1, characters: JSON.stringify(call.call?.args?.["text"] ?? "").length }) },
      });
      const flags = await t.storeFlags();
      outage = kind === "sqlite" ? sqliteOutage(flags) : postgresOutage(flags);
      ({ sessionId } = await agent.client(SessionService).createSession({ ttlSeconds: 600 }));
    });

    after(async () => {
      runtime?.close();
      await t?.stop();
    });

    const invoke = (text: string) => agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text } } });

    test("calls are refused with AUDIT_UNAVAILABLE and never run; after recovery they run and the log verifies", async () => {
      const before = await invoke("before the outage");
      assert.equal(before.result?.status, ResultStatus.SUCCESS);
      const dispatchedBefore = runtime.calls().length;

      const restore = await outage();
      let refusals;
      try {
        refusals = await Promise.all(["one", "two", "three"].map((text) => assertRefused(invoke(`during the outage ${text}`), "AUDIT_UNAVAILABLE", Code.Unavailable)));
      } finally {
        await restore();
      }
      for (const refusal of refusals) {
        assert.ok(Number(refusal.error?.retryAfterMs ?? 0n) > 0, "the refusal carries retry advice");
        assert.doesNotMatch(`${refusal.connectError.message} ${JSON.stringify(refusal.error, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`, /No space left|SQLITE|busy|database is locked/i, "no storage detail reaches the caller");
      }
      assert.equal(runtime.calls().length, dispatchedBefore, "the runtime received none of the refused calls");

      const afterward = await invoke("after recovery");
      assert.equal(afterward.result?.status, ResultStatus.SUCCESS);
      assert.equal(runtime.calls().length, dispatchedBefore + 1);
      const verification = await verifyAuditStore({ flags: await t.storeFlags(), publicKeyPem: t.host.auditPublicKeyPem });
      assert.equal(verification.ok, true, JSON.stringify(verification));
    });
  });
}
