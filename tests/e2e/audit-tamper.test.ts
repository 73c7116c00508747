/**
 * Tampering with the audit log directly in the database — as an administrator with database
 * access could — is detected by the offline verifier, which names the first bad event. Run on
 * SQLite and PostgreSQL against a log written by a real Host.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { verifyAuditStore } from "@aesp/host";
import { postgresUrl, startTestHost, textStatsContract } from "../support/harness.ts";
import type { StorageKind, TestHost } from "../support/harness.ts";

/** Runs one SQL statement against the Host's own database, outside the Host. */
type Sql = (statement: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

async function openRawDatabase(kind: StorageKind, flags: Record<string, unknown>): Promise<{ sql: Sql; close: () => Promise<void> }> {
  if (kind === "sqlite") {
    const db = new Database(path.join(String(flags["data_dir"]), "aesp.db"));
    return {
      sql: async (statement, params = []) => {
        const prepared = db.prepare(statement);
        return prepared.reader ? (prepared.all(...params) as Record<string, unknown>[]) : (prepared.run(...params), []);
      },
      close: async () => void db.close(),
    };
  }
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  await client.query(`SET search_path TO ${String(flags["storage.postgres_schema"])}`);
  let n = 0;
  return {
    // pg wants $1, $2…; the statements below are written with ? like SQLite's.
    // JSON columns come back parsed; node-pg would send an array back as a Postgres array literal.
    sql: async (statement, params = []) =>
      (await client.query(statement.replace(/\?/g, () => `$${++n}`), params.map((p) => (p !== null && typeof p === "object" ? JSON.stringify(p) : p))).finally(() => (n = 0)))
        .rows as Record<string, unknown>[],
    close: () => client.end(),
  };
}

for (const kind of ["sqlite", "postgres"] as StorageKind[]) {
  void describe(`audit tampering in ${kind} is detected offline`, () => {
    let t: TestHost;
    let flags: Record<string, unknown>;
    let sql: Sql;
    let closeDb: () => Promise<void>;
    let publicKeyPem: string;
    let size: number;

    const verify = () => verifyAuditStore({ flags, publicKeyPem });

    before(async () => {
      // A checkpoint every 5 records, so truncation below a signed checkpoint can be shown.
      t = await startTestHost(kind, { "audit.checkpoint_every": 5 });
      const approver = await t.actor("approver", ["approver"]);
      await t.activate(textStatsContract, t.admin, approver);
      for (let i = 0; i < 3; i++) await t.actor(`sa-${i}`, ["agent"]);
      flags = await t.storeFlags();
      publicKeyPem = t.host.auditPublicKeyPem;
      await t.host.close();
      ({ sql, close: closeDb } = await openRawDatabase(kind, flags));
      size = Number((await sql("select count(*) as n from audit_events"))[0]?.["n"]);
      assert.ok(size > 12, `enough events to tamper with (${size})`);
    });

    after(async () => {
      await closeDb?.();
      await t?.stop();
    });

    test("the untouched log verifies", async () => {
      const result = await verify();
      assert.equal(result.ok, true, JSON.stringify(result));
    });

    test("a modified field names that event", async () => {
      const [row] = await sql("select resource from audit_events where seq = ?", [5]);
      await sql("update audit_events set resource = ? where seq = ?", ["tenant:someone-else", 5]);
      const result = await verify();
      await sql("update audit_events set resource = ? where seq = ?", [row?.["resource"], 5]);
      assert.equal(result.ok, false);
      assert.equal(result.ok ? -1 : result.firstBadSeq, 5);
      assert.match(result.ok ? "" : result.reason, /modified|leaf/);
      assert.equal((await verify()).ok, true, "restored");
    });

    test("a deleted event names the gap", async () => {
      const [row] = await sql("select * from audit_events where seq = ?", [7]);
      await sql("delete from audit_events where seq = ?", [7]);
      const result = await verify();
      const columns = Object.keys(row ?? {});
      await sql(`insert into audit_events (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`, columns.map((c) => row?.[c]));
      assert.equal(result.ok ? -1 : result.firstBadSeq, 7);
      assert.match(result.ok ? "" : result.reason, /deleted|gap/);
      assert.equal((await verify()).ok, true, "restored");
    });

    test("an inserted event names its position", async () => {
      await sql("update audit_events set seq = seq + 1000000 where seq >= ?", [6]);
      await sql("update audit_events set seq = seq - 999999 where seq >= ?", [1000000]);
      const [copy] = await sql("select * from audit_events where seq = ?", [5]);
      const columns = Object.keys(copy ?? {});
      const forged = { ...copy, seq: 6, event_id: "evt_forged" };
      await sql(`insert into audit_events (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`, columns.map((c) => (forged as Record<string, unknown>)[c]));
      const result = await verify();
      await sql("delete from audit_events where seq = ?", [6]);
      await sql("update audit_events set seq = seq + 1000000 where seq >= ?", [7]);
      await sql("update audit_events set seq = seq - 1000001 where seq >= ?", [1000000]);
      assert.equal(result.ok ? -1 : result.firstBadSeq, 6);
      assert.equal((await verify()).ok, true, "restored");
    });

    test("two swapped events name the first of them", async () => {
      await sql("update audit_events set seq = -1 where seq = ?", [3]);
      await sql("update audit_events set seq = 3 where seq = ?", [4]);
      await sql("update audit_events set seq = 4 where seq = ?", [-1]);
      const result = await verify();
      await sql("update audit_events set seq = -1 where seq = ?", [3]);
      await sql("update audit_events set seq = 3 where seq = ?", [4]);
      await sql("update audit_events set seq = 4 where seq = ?", [-1]);
      assert.equal(result.ok ? -1 : result.firstBadSeq, 3);
      assert.equal((await verify()).ok, true, "restored");
    });

    test("truncation below a signed checkpoint is detected", async () => {
      const rows = await sql("select * from audit_events where seq >= ? order by seq", [size - 6]);
      await sql("delete from audit_events where seq >= ?", [size - 6]);
      const result = await verify();
      for (const row of rows) {
        const columns = Object.keys(row);
        await sql(`insert into audit_events (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`, columns.map((c) => row[c]));
      }
      assert.equal(result.ok, false);
      assert.match(result.ok ? "" : result.reason, /truncat/);
      assert.equal((await verify()).ok, true, "restored");
    });
  });
}
