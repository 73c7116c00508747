/**
 * Tampering with the audit log directly in the database — as an administrator with database
 * access could — is detected by the offline verifier, which names the first bad event (seq and
 * event id): a modified field, a deleted, inserted or reordered event, a changed stored leaf or
 * chain hash, the tail deleted after the last checkpoint or below one; and `aesp audit verify`
 * reports it and exits 1. Run on SQLite and PostgreSQL against a log written by a real Host.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { verifyAuditStore } from "@aesp/host";
import { runAesp, type CliRun } from "../support/cli.ts";
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

/** Runs `aesp audit verify` offline on the Host's store (PostgreSQL settings come from the environment, as an operator would pass them). */
async function aespVerify(flags: Record<string, unknown>, publicKeyPem: string, json: boolean): Promise<CliRun> {
  const work = await mkdtemp(path.join(tmpdir(), "aesp-tamper-cli-"));
  try {
    await writeFile(path.join(work, "audit-public-key.pem"), publicKeyPem);
    const env: Record<string, string> = {};
    if (flags["storage.kind"] === "postgres") {
      env["AESP_STORAGE_KIND"] = "postgres";
      env["AESP_STORAGE_POSTGRES_URL"] = String(flags["storage.postgres_url"]);
      env["AESP_STORAGE_POSTGRES_SCHEMA"] = String(flags["storage.postgres_schema"]);
    }
    return await runAesp([...(json ? ["--json"] : []), "audit", "verify", "--data-dir", String(flags["data_dir"]), "--key", "audit-public-key.pem"], { work, env });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
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
      const [row] = await sql("select resource, event_id from audit_events where seq = ?", [5]);
      await sql("update audit_events set resource = ? where seq = ?", ["tenant:someone-else", 5]);
      const result = await verify();
      await sql("update audit_events set resource = ? where seq = ?", [row?.["resource"], 5]);
      assert.equal(result.ok, false);
      assert.equal(result.ok ? -1 : result.firstBadSeq, 5);
      assert.equal(result.ok ? "" : result.eventId, row?.["event_id"]);
      assert.match(result.ok ? "" : result.reason, /modified|leaf/);
      assert.equal((await verify()).ok, true, "restored");
    });

    test("a deleted event names the gap", async () => {
      const [row] = await sql("select * from audit_events where seq = ?", [7]);
      const [successor] = await sql("select event_id from audit_events where seq = ?", [8]);
      await sql("delete from audit_events where seq = ?", [7]);
      const result = await verify();
      const columns = Object.keys(row ?? {});
      await sql(`insert into audit_events (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`, columns.map((c) => row?.[c]));
      assert.equal(result.ok ? -1 : result.firstBadSeq, 7);
      assert.equal(result.ok ? "" : result.eventId, successor?.["event_id"], "the event found where the deleted one was");
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
      assert.equal(result.ok ? "" : result.eventId, "evt_forged");
      assert.equal((await verify()).ok, true, "restored");
    });

    test("two swapped events name the first of them", async () => {
      const [fourth] = await sql("select event_id from audit_events where seq = ?", [4]);
      await sql("update audit_events set seq = -1 where seq = ?", [3]);
      await sql("update audit_events set seq = 3 where seq = ?", [4]);
      await sql("update audit_events set seq = 4 where seq = ?", [-1]);
      const result = await verify();
      await sql("update audit_events set seq = -1 where seq = ?", [3]);
      await sql("update audit_events set seq = 3 where seq = ?", [4]);
      await sql("update audit_events set seq = 4 where seq = ?", [-1]);
      assert.equal(result.ok ? -1 : result.firstBadSeq, 3);
      assert.equal(result.ok ? "" : result.eventId, fourth?.["event_id"], "the event now in third place");
      assert.equal((await verify()).ok, true, "restored");
    });

    for (const column of ["leaf_hash", "chain_hash"]) {
      test(`a changed stored ${column} names that event`, async () => {
        const [row] = await sql(`select ${column} as hash, event_id from audit_events where seq = ?`, [9]);
        await sql(`update audit_events set ${column} = ? where seq = ?`, ["00".repeat(32), 9]);
        const result = await verify();
        await sql(`update audit_events set ${column} = ? where seq = ?`, [row?.["hash"], 9]);
        assert.equal(result.ok ? -1 : result.firstBadSeq, 9);
        assert.equal(result.ok ? "" : result.eventId, row?.["event_id"]);
        assert.match(result.ok ? "" : result.reason, column === "leaf_hash" ? /leaf hash/ : /chain hash/);
        assert.equal((await verify()).ok, true, "restored");
      });
    }

    test("the tail deleted after the last signed checkpoint is detected against the committed head", async () => {
      const [checkpoint] = await sql("select max(tree_size) as n from audit_checkpoints");
      const last = Number(checkpoint?.["n"]);
      assert.ok(last < size, `records after the last checkpoint (${String(last)} of ${String(size)})`);
      // Only what no signed checkpoint covers: the chain and the checkpoints alone cannot see this.
      const from = last;
      const rows = await sql("select * from audit_events where seq >= ? order by seq", [from]);
      await sql("delete from audit_events where seq >= ?", [from]);
      const result = await verify();
      for (const row of rows) {
        const columns = Object.keys(row);
        await sql(`insert into audit_events (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`, columns.map((c) => row[c]));
      }
      assert.equal(result.ok, false);
      assert.equal(result.ok ? -1 : result.firstBadSeq, from);
      assert.match(result.ok ? "" : result.reason, /truncat/);
      assert.equal((await verify()).ok, true, "restored");
    });

    test("aesp audit verify names the first bad event and exits 1", async () => {
      const [row] = await sql("select event_id, principal_id from audit_events where seq = ?", [2]);
      await sql("update audit_events set principal_id = ? where seq = ?", ["usr_somebody_else", 2]);
      let text: CliRun;
      let json: CliRun;
      try {
        text = await aespVerify(flags, publicKeyPem, false);
        json = await aespVerify(flags, publicKeyPem, true);
      } finally {
        await sql("update audit_events set principal_id = ? where seq = ?", [row?.["principal_id"], 2]);
      }
      const eventId = String(row?.["event_id"]);
      assert.equal(text.code, 1, text.stdout + text.stderr);
      assert.ok((text.stdout + text.stderr).includes(`FAILED: the audit log is not intact from event seq 2 (event id ${eventId}).`), text.stdout + text.stderr);
      assert.equal(json.code, 1);
      const parsed = JSON.parse(json.stdout) as { ok: boolean; first_bad_seq: number; event_id: string };
      assert.deepEqual({ ok: parsed.ok, seq: parsed.first_bad_seq, id: parsed.event_id }, { ok: false, seq: 2, id: eventId });
      const clean = await aespVerify(flags, publicKeyPem, true);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
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
