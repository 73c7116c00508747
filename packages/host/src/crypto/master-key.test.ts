import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  KeyProtectionError,
  MASTER_KEY_ENV,
  generateMasterKeyText,
  loadOrCreateMasterKey,
  openPrivateKey,
  sealPrivateKey,
  type MasterKey,
} from "./master-key.ts";

void describe("master key", () => {
  let root: string;
  let counter = 0;
  const freshDir = (): string => join(root, `case-${++counter}`, "data");

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "aesp-master-key-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  void test("is created once with mode 0600 in a 0700 directory, then reloaded unchanged", async () => {
    const dataDir = freshDir();
    const first = await loadOrCreateMasterKey({ dataDir, env: {} });
    assert.equal(first.source, "file");
    const file = join(dataDir, "master.key");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.match(await readFile(file, "utf8"), /^[A-Za-z0-9_-]{43}\n$/);
    const second = await loadOrCreateMasterKey({ dataDir, env: {} });
    assert.ok(first.key.equals(second.key));
    assert.deepEqual(await readdir(dataDir), ["master.key"], "no temporary file is left behind");
  });

  void test("Hosts starting at once over one data directory agree on one key", async () => {
    const dataDir = freshDir();
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateMasterKey({ dataDir, env: {} })));
    for (const key of keys) assert.ok(key.key.equals(keys[0]!.key));
    assert.deepEqual(await readdir(dataDir), ["master.key"]);
  });

  void test("the environment variable wins over the file and is never written to disk", async () => {
    const dataDir = freshDir();
    const text = generateMasterKeyText();
    const fromEnv = await loadOrCreateMasterKey({ dataDir, env: { [MASTER_KEY_ENV]: text } });
    assert.equal(fromEnv.source, "env");
    assert.deepEqual(fromEnv.key.export(), Buffer.from(text, "base64url"));
    await assert.rejects(stat(dataDir), { code: "ENOENT" });
  });

  void test("accepts padded base64url as printed by `basenc --base64url`", async () => {
    const raw = Buffer.alloc(32, 7);
    const key = await loadOrCreateMasterKey({ dataDir: freshDir(), env: { [MASTER_KEY_ENV]: `${raw.toString("base64url")}=\n` } });
    assert.deepEqual(key.key.export(), raw);
  });

  void test("refuses an environment value of the wrong length or alphabet", async () => {
    for (const value of [Buffer.alloc(16).toString("base64url"), Buffer.alloc(33).toString("base64url"), "not base64url!!", "a b"]) {
      await assert.rejects(loadOrCreateMasterKey({ dataDir: freshDir(), env: { [MASTER_KEY_ENV]: value } }), KeyProtectionError, value);
    }
  });

  void test("refuses a key file readable by group (0640) or others (0604)", async () => {
    for (const mode of [0o640, 0o604]) {
      const dataDir = freshDir();
      await loadOrCreateMasterKey({ dataDir, env: {} });
      await chmod(join(dataDir, "master.key"), mode);
      await assert.rejects(loadOrCreateMasterKey({ dataDir, env: {} }), /readable by group or others/);
    }
  });

  void test("refuses a malformed key file and a directory in its place", async () => {
    const truncated = freshDir();
    await mkdir(truncated, { recursive: true });
    await writeFile(join(truncated, "master.key"), "c2hvcnQ\n", { mode: 0o600 });
    await assert.rejects(loadOrCreateMasterKey({ dataDir: truncated, env: {} }), /exactly 32 bytes/);

    const directory = freshDir();
    await mkdir(join(directory, "master.key"), { recursive: true });
    await assert.rejects(loadOrCreateMasterKey({ dataDir: directory, env: {} }), /not a regular file/);
  });
});

void describe("sealed private keys", () => {
  let masterKey: MasterKey;
  let otherMasterKey: MasterKey;
  const pkcs8 = Buffer.from("a private key, as far as AES-GCM can tell");

  before(async () => {
    masterKey = await loadOrCreateMasterKey({ dataDir: "/nonexistent", env: { [MASTER_KEY_ENV]: generateMasterKeyText() } });
    otherMasterKey = await loadOrCreateMasterKey({ dataDir: "/nonexistent", env: { [MASTER_KEY_ENV]: generateMasterKeyText() } });
  });

  void test("round-trips in the v1 format with a fresh IV every time", () => {
    const first = sealPrivateKey(masterKey, pkcs8, "token-signing-1");
    const second = sealPrivateKey(masterKey, pkcs8, "token-signing-1");
    assert.match(first, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    assert.notEqual(first, second);
    assert.deepEqual(openPrivateKey(masterKey, first, "token-signing-1"), pkcs8);
    assert.deepEqual(openPrivateKey(masterKey, second, "token-signing-1"), pkcs8);
  });

  void test("does not open with another AAD, another master key, or altered bytes", () => {
    const sealed = sealPrivateKey(masterKey, pkcs8, "ca-1");
    assert.throws(() => openPrivateKey(masterKey, sealed, "ca-2"), KeyProtectionError);
    assert.throws(() => openPrivateKey(otherMasterKey, sealed, "ca-1"), KeyProtectionError);
    const [version, iv, body] = sealed.split(".") as [string, string, string];
    const flipped = Buffer.from(body, "base64url");
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.throws(() => openPrivateKey(masterKey, `${version}.${iv}.${flipped.toString("base64url")}`, "ca-1"), KeyProtectionError);
    const otherIv = Buffer.from(iv, "base64url");
    otherIv[0] = (otherIv[0] ?? 0) ^ 1;
    assert.throws(() => openPrivateKey(masterKey, `${version}.${otherIv.toString("base64url")}.${body}`, "ca-1"), KeyProtectionError);
  });

  void test("refuses unknown versions and truncated blobs without trying to decrypt", () => {
    const sealed = sealPrivateKey(masterKey, pkcs8, "ca-1");
    assert.throws(() => openPrivateKey(masterKey, sealed.replace(/^v1\./, "v2."), "ca-1"), /unknown format/);
    assert.throws(() => openPrivateKey(masterKey, sealed.slice(0, 20), "ca-1"), KeyProtectionError);
    assert.throws(() => openPrivateKey(masterKey, `${sealed}.extra`, "ca-1"), /unknown format/);
  });

  void test("the error names the key id but never the key material", () => {
    const sealed = sealPrivateKey(masterKey, pkcs8, "audit-signing-3");
    try {
      openPrivateKey(otherMasterKey, sealed, "audit-signing-3");
      assert.fail("expected a refusal");
    } catch (err) {
      assert.ok(err instanceof KeyProtectionError);
      assert.match(err.message, /audit-signing-3/);
      assert.doesNotMatch(err.message, new RegExp(sealed.split(".")[2]!.slice(0, 12)));
    }
  });
});
