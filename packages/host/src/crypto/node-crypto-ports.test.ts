import assert from "node:assert/strict";
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import {
  ScryptSecretHasher,
  createEd25519Signer,
  nodeHasher,
  nodeIdSource,
  nodeSignatureVerifier,
  rawEd25519PublicKey,
  systemClock,
} from "./node-crypto-ports.ts";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

void describe("nodeHasher", () => {
  void test("computes SHA-256 (FIPS 180-2 vector for 'abc')", () => {
    const digest = nodeHasher.sha256(new TextEncoder().encode("abc"));
    assert.equal(hex(digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(Object.getPrototypeOf(digest), Uint8Array.prototype, "a plain Uint8Array, not a Buffer");
  });

  void test("matches createHash for every length up to 600 bytes, so every digest byte value survives the latin1 copy", () => {
    const seenBytes = new Set<number>();
    for (let length = 0; length <= 600; length++) {
      const data = new Uint8Array(randomBytes(length));
      const digest = nodeHasher.sha256(data);
      assert.equal(hex(digest), createHash("sha256").update(data).digest("hex"), `length ${String(length)}`);
      for (const byte of digest) seenBytes.add(byte);
    }
    assert.equal(seenBytes.size, 256, "19,232 random digest bytes cover every value, including 0x80-0xff");
  });

  void test("each digest is a fresh array the caller owns", () => {
    const a = nodeHasher.sha256(new Uint8Array([1]));
    const b = nodeHasher.sha256(new Uint8Array([2]));
    a.fill(0);
    assert.equal(hex(b), createHash("sha256").update(new Uint8Array([2])).digest("hex"));
  });
});

void describe("systemClock", () => {
  void test("reads wall-clock milliseconds", () => {
    const before = Date.now();
    const now = systemClock.now();
    assert.ok(now >= before && now <= Date.now());
  });
});

void describe("nodeIdSource", () => {
  void test("ids are <prefix>_<26 Crockford base32 chars> and do not repeat", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = nodeIdSource.newId("ses");
      assert.match(id, /^ses_[0-9abcdefghjkmnpqrstvwxyz]{26}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 20_000);
  });

  void test("every base32 character is used (no bias to a subset)", () => {
    const used = new Set(Array.from({ length: 200 }, () => nodeIdSource.newId("x").slice(2)).join(""));
    assert.equal(used.size, 32);
  });

  void test("refuses prefixes that would make ids ambiguous or unsafe in URLs", () => {
    for (const prefix of ["", "Ses", "ses_", "a/b", "9abc", "abcdefghijklmnopq"]) {
      assert.throws(() => nodeIdSource.newId(prefix), RangeError, prefix);
    }
  });

  void test("secrets are base64url of the requested length and refuse silly lengths", () => {
    const secret = nodeIdSource.newSecret(32);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(secret, "base64url").length, 32);
    assert.notEqual(nodeIdSource.newSecret(32), secret);
    for (const bytes of [0, -1, 1.5, 4096, Number.NaN]) assert.throws(() => nodeIdSource.newSecret(bytes), RangeError);
  });
});

void describe("ScryptSecretHasher", () => {
  const hasher = new ScryptSecretHasher();

  void test("hashes as scrypt$16384$8$1$salt$hash with a fresh salt and verifies", async () => {
    const first = await hasher.hash("correct horse");
    const second = await hasher.hash("correct horse");
    assert.match(first, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(first, second);
    assert.equal(await hasher.verify("correct horse", first), true);
    assert.equal(await hasher.verify("correct horse", second), true);
    assert.equal(await hasher.verify("correct horsf", first), false);
    assert.equal(await hasher.verify("", first), false);
  });

  void test("verifies hashes made with other (in-bounds) parameters", async () => {
    const cheap = new ScryptSecretHasher({ N: 2 ** 10, r: 8, p: 1 });
    const stored = await cheap.hash("s3cret");
    assert.match(stored, /^scrypt\$1024\$8\$1\$/);
    assert.equal(await hasher.verify("s3cret", stored), true);
  });

  void test("treats malformed or out-of-bounds stored values as a mismatch, without computing them", async () => {
    const stored = await hasher.hash("s3cret");
    const [, , r, p, salt, hash] = stored.split("$");
    const tampered = [
      `scrypt$${2 ** 30}$${r}$${p}$${salt}$${hash}`,
      `scrypt$1000$${r}$${p}$${salt}$${hash}`,
      `scrypt$16384$999$${p}$${salt}$${hash}`,
      `scrypt$16384$${r}$${p}$$${hash}`,
      `bcrypt$16384$${r}$${p}$${salt}$${hash}`,
      `scrypt$16384$${r}$${p}$${salt}`,
      "",
    ];
    for (const value of tampered) assert.equal(await hasher.verify("s3cret", value), false, value);
  });

  void test("refuses out-of-bounds parameters at construction", () => {
    assert.throws(() => new ScryptSecretHasher({ N: 3000, r: 8, p: 1 }), RangeError);
    assert.throws(() => new ScryptSecretHasher({ N: 2 ** 21, r: 8, p: 1 }), RangeError);
  });
});

void describe("Ed25519 signer and verifier", () => {
  // RFC 8032 §7.1, TEST 1 (empty message).
  const rfcPrivate = createPrivateKey({
    key: {
      kty: "OKP",
      crv: "Ed25519",
      d: Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex").toString("base64url"),
      x: Buffer.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "hex").toString("base64url"),
    },
    format: "jwk",
  });
  const rfcSignature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

  void test("signs the RFC 8032 test vector and exposes the raw public key", async () => {
    const signer = createEd25519Signer("audit-signing-1", rfcPrivate);
    assert.equal(signer.keyId, "audit-signing-1");
    assert.equal(hex(signer.publicKey), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assert.equal(hex(await signer.sign(new Uint8Array())), rfcSignature);
  });

  void test("verifies good signatures and rejects altered message, signature or key", async () => {
    const signer = createEd25519Signer("k", generateKeyPairSync("ed25519").privateKey);
    const other = createEd25519Signer("k2", generateKeyPairSync("ed25519").privateKey);
    const message = new TextEncoder().encode("checkpoint 42");
    const signature = await signer.sign(message);
    assert.equal(nodeSignatureVerifier.verifyEd25519(signer.publicKey, message, signature), true);
    assert.equal(nodeSignatureVerifier.verifyEd25519(signer.publicKey, new TextEncoder().encode("checkpoint 43"), signature), false);
    const flipped = Uint8Array.from(signature);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    assert.equal(nodeSignatureVerifier.verifyEd25519(signer.publicKey, message, flipped), false);
    assert.equal(nodeSignatureVerifier.verifyEd25519(other.publicKey, message, signature), false);
    assert.equal(
      nodeSignatureVerifier.verifyEd25519(Buffer.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "hex"), new Uint8Array(), Buffer.from(rfcSignature, "hex")),
      true,
    );
  });

  void test("malformed keys and signatures verify as false instead of throwing", () => {
    const message = new Uint8Array([1]);
    assert.equal(nodeSignatureVerifier.verifyEd25519(new Uint8Array(31), message, new Uint8Array(64)), false);
    assert.equal(nodeSignatureVerifier.verifyEd25519(new Uint8Array(32), message, new Uint8Array(63)), false);
    assert.equal(nodeSignatureVerifier.verifyEd25519(new Uint8Array(32).fill(0xff), message, new Uint8Array(64)), false);
  });

  void test("the signer accepts only an Ed25519 private key", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const ed = generateKeyPairSync("ed25519");
    assert.throws(() => createEd25519Signer("k", ec.privateKey), TypeError);
    assert.throws(() => createEd25519Signer("k", ed.publicKey), TypeError);
    assert.throws(() => rawEd25519PublicKey(ec.publicKey), TypeError);
    assert.equal(rawEd25519PublicKey(ed.publicKey).length, 32);
  });
});
