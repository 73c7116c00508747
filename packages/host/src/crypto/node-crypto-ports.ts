/**
 * `node:crypto` implementations of the core's effect ports: hashing, identifiers, time, secret
 * hashing and Ed25519 signatures.
 *
 * Rules enforced here:
 * - Identifiers and secrets come from the CSPRNG only.
 * - Stored secrets are scrypt hashes with a per-secret salt, compared in constant time; a stored
 *   hash with out-of-range cost parameters is refused rather than computed (no self-inflicted DoS).
 * - A signer accepts only an Ed25519 private key, so the core's `publicKey` is always raw 32 bytes.
 */
import {
  createPublicKey,
  randomBytes,
  randomFillSync,
  scrypt,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
  type ScryptOptions,
  hash,
} from "node:crypto";
import type { Clock, Hasher, IdSource, Scheduler, SecretHasher, SignatureVerifier, Signer } from "@aesp/core";

/**
 * SHA-256 via the one-shot `crypto.hash` (about 30% faster than `createHash` for small inputs).
 *
 * The digest comes back as a "binary" (latin1) string, one char per byte, lossless, and is copied into a
 * 32-byte array: a `Buffer` digest is allocated outside the JS heap, and measured here that
 * allocation and its garbage collection cost more than the hash itself for the 64-byte inputs of
 * chain links and Merkle nodes (about 0.75 µs per hash instead of 1.5 µs). Verifying a log takes
 * three hashes per record, so this is most of the verifier's budget.
 */
export const nodeHasher: Hasher = {
  sha256(data: Uint8Array): Uint8Array {
    const digest = hash("sha256", data, "binary");
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i);
    return out;
  },
};

/** Wall-clock time from `Date.now()`. */
export const systemClock: Clock = {
  now: () => Date.now(),
};

/** Timers for the core's waits: resolves after `ms` or at once when the signal aborts. */
export const nodeScheduler: Scheduler = {
  sleep(ms, signal) {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
    });
  },
};

// Crockford's base32 alphabet, lower-cased: no i, l, o, u, so ids survive being read aloud.
const BASE32_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const ID_RANDOM_CHARS = 26;
const ID_PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}$/;
const MAX_SECRET_BYTES = 1024;

/**
 * Identifiers `<prefix>_<26 base32 chars>` (130 random bits) and base64url secrets, from the CSPRNG.
 *
 * @throws RangeError from `newId` when the prefix is not 1–16 lower-case letters/digits starting
 *   with a letter, and from `newSecret` when `bytes` is not an integer in 1..1024 (programming errors)
 */
export const nodeIdSource: IdSource = {
  newId(prefix: string): string {
    if (!ID_PREFIX_PATTERN.test(prefix)) throw new RangeError(`invalid id prefix ${JSON.stringify(prefix)}`);
    return `${prefix}_${randomBase32(ID_RANDOM_CHARS)}`;
  },
  newSecret(bytes: number): string {
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_SECRET_BYTES) {
      throw new RangeError(`secret length must be an integer in 1..${MAX_SECRET_BYTES}`);
    }
    return randomBytes(bytes).toString("base64url");
  },
};

/**
 * CSPRNG bytes drawn in blocks: one `randomFillSync` call per id cost more than everything else the
 * audit log does per event (measured ~6 µs of ~40), as Node's own `randomUUID` found and solved the
 * same way. Each byte is handed out once, then overwritten by the next refill.
 */
const RANDOM_POOL_BYTES = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_BYTES);
let randomPoolOffset = RANDOM_POOL_BYTES;

function randomBase32(chars: number): string {
  if (randomPoolOffset + chars > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  // Each char takes 5 bits from a fresh byte's low bits; 256 is a multiple of 32, so no bias.
  let text = "";
  for (let i = randomPoolOffset; i < randomPoolOffset + chars; i++) text += BASE32_ALPHABET[randomPool[i]! & 31];
  randomPoolOffset += chars;
  return text;
}

/** Cost parameters of {@link ScryptSecretHasher}. */
export interface ScryptParameters {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** The parameters new hashes use: N=2^14, r=8, p=1 (16 MiB, ~30 ms on one core). */
export const DEFAULT_SCRYPT_PARAMETERS: Readonly<ScryptParameters> = { N: 2 ** 14, r: 8, p: 1 };

const SCRYPT_SALT_BYTES = 16;
const SCRYPT_HASH_BYTES = 32;
// Upper bounds for parameters read back from storage: a tampered row must not make verify() allocate gigabytes.
const SCRYPT_MAX_N = 2 ** 20;
const SCRYPT_MAX_R = 32;
const SCRYPT_MAX_P = 16;

/**
 * scrypt hashing of stored secrets (API keys, join tokens, the bootstrap token).
 *
 * Format: `scrypt$N$r$p$<salt base64url>$<hash base64url>`; the parameters travel with the hash so
 * they can be raised later without invalidating stored secrets.
 */
export class ScryptSecretHasher implements SecretHasher {
  readonly #parameters: Readonly<ScryptParameters>;

  /**
   * @param parameters - cost for new hashes; defaults to {@link DEFAULT_SCRYPT_PARAMETERS}
   * @throws RangeError when the parameters are outside the accepted bounds
   */
  constructor(parameters: Readonly<ScryptParameters> = DEFAULT_SCRYPT_PARAMETERS) {
    if (!scryptParametersAcceptable(parameters)) throw new RangeError("scrypt parameters out of bounds");
    this.#parameters = parameters;
  }

  /**
   * Hashes a secret with a fresh 16-byte salt.
   *
   * @param secret - the clear secret
   * @returns the self-describing hash string
   */
  async hash(secret: string): Promise<string> {
    const { N, r, p } = this.#parameters;
    const salt = randomBytes(SCRYPT_SALT_BYTES);
    const derived = await scryptAsync(secret, salt, SCRYPT_HASH_BYTES, { N, r, p, maxmem: scryptMaxMem(N, r, p) });
    return ["scrypt", N, r, p, salt.toString("base64url"), derived.toString("base64url")].join("$");
  }

  /**
   * Checks a secret against a stored hash in constant time.
   *
   * @param secret - the presented secret
   * @param stored - a hash produced by {@link ScryptSecretHasher.hash}
   * @returns false for a mismatch and for a malformed or out-of-bounds stored value
   */
  async verify(secret: string, stored: string): Promise<boolean> {
    const parsed = parseScryptHash(stored);
    if (parsed === null) return false;
    const { N, r, p, salt, expected } = parsed;
    const derived = await scryptAsync(secret, salt, expected.length, { N, r, p, maxmem: scryptMaxMem(N, r, p) });
    return timingSafeEqual(derived, expected);
  }
}

function parseScryptHash(stored: string): (ScryptParameters & { salt: Buffer; expected: Buffer }) | null {
  const fields = stored.split("$");
  if (fields.length !== 6 || fields[0] !== "scrypt") return null;
  const [, nText, rText, pText, saltText, hashText] = fields;
  const parameters = { N: Number(nText), r: Number(rText), p: Number(pText) };
  if (!scryptParametersAcceptable(parameters)) return null;
  const salt = Buffer.from(saltText ?? "", "base64url");
  const expected = Buffer.from(hashText ?? "", "base64url");
  if (salt.length < SCRYPT_SALT_BYTES || expected.length < 16 || expected.length > 64) return null;
  return { ...parameters, salt, expected };
}

function scryptParametersAcceptable({ N, r, p }: ScryptParameters): boolean {
  return (
    Number.isInteger(N) && N >= 2 && N <= SCRYPT_MAX_N && (N & (N - 1)) === 0 &&
    Number.isInteger(r) && r >= 1 && r <= SCRYPT_MAX_R &&
    Number.isInteger(p) && p >= 1 && p <= SCRYPT_MAX_P
  );
}

function scryptMaxMem(N: number, r: number, p: number): number {
  // OpenSSL needs 128·N·r for V plus 128·r·p for B; leave headroom over Node's 32 MiB default.
  return 128 * N * r + 128 * r * p + 32 * 1024 * 1024;
}

function scryptAsync(secret: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize("NFC"), salt, length, options, (err, derived) => (err ? reject(err) : resolve(derived)));
  });
}

const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;
const VERIFIER_KEY_CACHE_LIMIT = 64;

/**
 * Ed25519 verification from a raw 32-byte public key.
 *
 * Parsed keys are cached (a few checkpoint keys are verified over and over during `audit verify`).
 * Malformed keys or signatures verify as false, never throw.
 */
export const nodeSignatureVerifier: SignatureVerifier = (() => {
  const cache = new Map<string, KeyObject>();
  function keyFor(publicKey: Uint8Array): KeyObject {
    const x = Buffer.from(publicKey).toString("base64url");
    let key = cache.get(x);
    if (key === undefined) {
      key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
      if (cache.size >= VERIFIER_KEY_CACHE_LIMIT) cache.clear();
      cache.set(x, key);
    }
    return key;
  }
  return {
    verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
      try {
        return verify(null, message, keyFor(publicKey), signature);
      } catch {
        return false;
      }
    },
  };
})();

/**
 * Wraps an Ed25519 private key as the core's {@link Signer}.
 *
 * @param keyId - the key's id, published next to signatures
 * @param privateKey - an Ed25519 private `KeyObject`
 * @returns a signer whose `publicKey` is the raw 32-byte Ed25519 public key
 * @throws TypeError when `privateKey` is not an Ed25519 private key
 */
export function createEd25519Signer(keyId: string, privateKey: KeyObject): Signer {
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw new TypeError("createEd25519Signer needs an Ed25519 private key");
  }
  const publicKey = rawEd25519PublicKey(createPublicKey(privateKey));
  return {
    keyId,
    publicKey,
    async sign(message: Uint8Array): Promise<Uint8Array> {
      const signature = sign(null, message, privateKey);
      return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
    },
  };
}

/**
 * Extracts the raw 32 bytes of an Ed25519 public key.
 *
 * @param publicKey - an Ed25519 public `KeyObject`
 * @returns the raw public key
 * @throws TypeError when the key is not Ed25519
 */
export function rawEd25519PublicKey(publicKey: KeyObject): Uint8Array {
  if (publicKey.asymmetricKeyType !== "ed25519") throw new TypeError("not an Ed25519 key");
  const jwk = publicKey.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new TypeError("Ed25519 key without x coordinate");
  return new Uint8Array(Buffer.from(jwk.x, "base64url"));
}
