// loadOrCreateKey over the real storage adapters: an SQLite file shared by two Store handles, and
// PostgreSQL shared by two pools (two Hosts starting at once).
import assert from "node:assert/strict";
import { sign, verify } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import type { Clock, Store } from "@aesp/core";
import { openStore } from "../storage/index.ts";
import { generateHostKeyPair, loadOrCreateKey, openKeyRecord } from "./key-material.ts";
import { KeyProtectionError, MASTER_KEY_ENV, generateMasterKeyText, loadOrCreateMasterKey, type MasterKey } from "./master-key.ts";
import { nodeIdSource } from "./node-crypto-ports.ts";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

void describe("loadOrCreateKey", () => {
  let dir: string;
  let masterKey: MasterKey;
  let clockNow = 1_700_000_000_000;
  const clock: Clock = { now: () => clockNow };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "aesp-key-material-"));
    masterKey = await loadOrCreateMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: generateMasterKeyText() } });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function withSqlite<T>(name: string, work: (store: Store) => Promise<T>): Promise<T> {
    const store = await openStore({ kind: "sqlite", path: join(dir, `${name}.db`) });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  void test("creates a sealed key on first use and returns the same key afterwards", async () => {
    await withSqlite("reuse", async (store) => {
      const created = await loadOrCreateKey(store.platform.keys, masterKey, "audit-signing", "Ed25519", clock, nodeIdSource);
      assert.equal(created.record.keyId, "audit-signing-1");
      assert.equal(created.record.algorithm, "Ed25519");
      assert.equal(created.record.createdAt, clockNow);
      assert.equal(created.record.certificatePem, null);
      assert.match(created.record.encryptedPrivateKey, /^v1\./);
      assert.equal(created.privateKey.asymmetricKeyType, "ed25519");

      const loaded = await loadOrCreateKey(store.platform.keys, masterKey, "audit-signing", "Ed25519", clock, nodeIdSource);
      assert.equal(loaded.record.keyId, created.record.keyId);
      assert.ok(loaded.publicKey.equals(created.publicKey));
      const message = Buffer.from("checkpoint");
      assert.ok(verify(null, message, created.publicKey, sign(null, message, loaded.privateKey)), "the reloaded private key is the created one");

      const stored = await store.platform.keys.current("audit-signing");
      assert.ok(stored !== null);
      assert.doesNotMatch(JSON.stringify(stored), /PRIVATE KEY/);
    });
  });

  void test("keeps purposes apart and generates P-256 keys for ECDSA-P256", async () => {
    await withSqlite("purposes", async (store) => {
      const token = await loadOrCreateKey(store.platform.keys, masterKey, "token-signing", "ECDSA-P256", clock, nodeIdSource);
      const audit = await loadOrCreateKey(store.platform.keys, masterKey, "audit-signing", "Ed25519", clock, nodeIdSource);
      assert.equal(token.record.keyId, "token-signing-1");
      assert.equal(token.privateKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
      assert.equal(audit.record.keyId, "audit-signing-1");
      assert.ok(!token.publicKey.equals(audit.publicKey));
    });
  });

  void test("after the current key is retired, the next generation is created", async () => {
    await withSqlite("rotation", async (store) => {
      const first = await loadOrCreateKey(store.platform.keys, masterKey, "token-signing", "Ed25519", clock, nodeIdSource);
      clockNow += 1000;
      await store.platform.keys.retire(first.record.keyId, clockNow);
      const second = await loadOrCreateKey(store.platform.keys, masterKey, "token-signing", "Ed25519", clock, nodeIdSource);
      assert.equal(second.record.keyId, "token-signing-2");
      assert.ok(!second.publicKey.equals(first.publicKey));
    });
  });

  void test("refuses a stored key of another algorithm, or under another master key", async () => {
    await withSqlite("mismatch", async (store) => {
      await loadOrCreateKey(store.platform.keys, masterKey, "audit-signing", "Ed25519", clock, nodeIdSource);
      await assert.rejects(
        loadOrCreateKey(store.platform.keys, masterKey, "audit-signing", "ECDSA-P256", clock, nodeIdSource),
        /is Ed25519, expected ECDSA-P256/,
      );
      const otherMasterKey = await loadOrCreateMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: generateMasterKeyText() } });
      await assert.rejects(loadOrCreateKey(store.platform.keys, otherMasterKey, "audit-signing", "Ed25519", clock, nodeIdSource), KeyProtectionError);
    });
  });

  void test("refuses a record whose public key was replaced (signatures nobody could verify)", async () => {
    await withSqlite("tamper", async (store) => {
      const genuine = await loadOrCreateKey(store.platform.keys, masterKey, "audit-signing", "Ed25519", clock, nodeIdSource);
      const foreignPublicKey = generateHostKeyPair("Ed25519").publicKey.export({ type: "spki", format: "pem" }).toString();
      assert.throws(() => openKeyRecord({ ...genuine.record, publicKeyPem: foreignPublicKey }, masterKey, "Ed25519"), /does not match its public key/);
      assert.throws(() => openKeyRecord({ ...genuine.record, publicKeyPem: "garbage" }, masterKey, "Ed25519"), KeyProtectionError);
    });
  });

  void test("two Hosts over one SQLite file converge on one key", async () => {
    const path = join(dir, "shared.db");
    const [hostA, hostB] = await Promise.all([openStore({ kind: "sqlite", path }), openStore({ kind: "sqlite", path })]);
    try {
      const results = await Promise.all(
        [hostA, hostB, hostA, hostB, hostA, hostB, hostA, hostB].map((store) => loadOrCreateKey(store.platform.keys, masterKey, "ca", "ECDSA-P256", clock, nodeIdSource)),
      );
      for (const result of results) {
        assert.equal(result.record.keyId, "ca-1");
        assert.ok(result.publicKey.equals(results[0]!.publicKey));
      }
      assert.equal((await hostA.platform.keys.list("ca")).length, 1);
    } finally {
      await Promise.all([hostA.close(), hostB.close()]);
    }
  });

  void test("two Hosts over one PostgreSQL database converge on one key", async () => {
    const schema = `key_material_test_${process.pid}`;
    const [hostA, hostB] = await Promise.all([
      openStore({ kind: "postgres", connectionString: POSTGRES_URL, schema }),
      openStore({ kind: "postgres", connectionString: POSTGRES_URL, schema }),
    ]);
    try {
      const results = await Promise.all(
        [hostA, hostB, hostA, hostB, hostA, hostB, hostA, hostB].map((store) => loadOrCreateKey(store.platform.keys, masterKey, "token-signing", "Ed25519", clock, nodeIdSource)),
      );
      for (const result of results) assert.ok(result.publicKey.equals(results[0]!.publicKey));
      assert.equal((await hostB.platform.keys.list("token-signing")).length, 1);
    } finally {
      await Promise.all([hostA.close(), hostB.close()]);
      const client = new pg.Client(POSTGRES_URL);
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  });
});
