/**
 * Host key pairs (CA, gateway TLS, token signing, audit signing), stored sealed in the
 * {@link KeyMaterialStore} and loaded or created at startup.
 *
 * Rules enforced here:
 * - A private key is written only sealed under the master key, bound to its key id.
 * - A loaded key must match its record: algorithm as requested, public key derived from the
 *   opened private key equal to the stored one. A mismatch stops the Host instead of signing with
 *   a key nobody can verify.
 * - Hosts that start at once converge on one key per purpose: key ids are `<purpose>-<generation>`,
 *   so racing creators collide on the store's unique key id and the loser re-reads the winner's key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { isErrorCode } from "@aesp/core";
import type { Clock, IdSource, KeyMaterialStore } from "@aesp/core";
import type { KeyMaterialRecord, KeyPurpose } from "@aesp/core";
import { KeyProtectionError, openPrivateKey, sealPrivateKey, type MasterKey } from "./master-key.ts";

/** Algorithms the Host generates its own keys with. */
export type HostKeyAlgorithm = "Ed25519" | "ECDSA-P256";

/** An opened key pair with the record it came from. */
export interface LoadedKey {
  readonly record: KeyMaterialRecord;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Inputs of {@link loadOrCreateKeyWith}. */
export interface LoadOrCreateKeyOptions {
  keys: KeyMaterialStore;
  masterKey: MasterKey;
  purpose: KeyPurpose;
  algorithm: HostKeyAlgorithm;
  clock: Clock;
  /**
   * Produces the certificate stored with a newly created key (the CA's self-signed root).
   * Called once per creation attempt, before the record is written, because the store has no update.
   */
  certify?: (key: { keyId: string; privateKey: KeyObject; publicKey: KeyObject }) => Promise<string>;
}

// Enough for a few racing Hosts plus retired generations a listing did not show.
const MAX_CREATE_ATTEMPTS = 8;

/**
 * Returns the current key for `purpose`, creating, sealing and storing one when there is none.
 *
 * @param keys - the platform key store
 * @param masterKey - the master key that seals private keys
 * @param purpose - which Host key
 * @param algorithm - the algorithm a new key is generated with, and that an existing one must have
 * @param clock - stamps `createdAt`
 * @param _ids - unused: key ids are derived from purpose and generation so that racing Hosts
 *   collide on them (accepted for call-site compatibility)
 * @returns the record and its opened key pair
 * @throws KeyProtectionError when the stored key cannot be opened, has another algorithm, or its
 *   public key does not match its private key
 */
export async function loadOrCreateKey(
  keys: KeyMaterialStore,
  masterKey: MasterKey,
  purpose: KeyPurpose,
  algorithm: HostKeyAlgorithm,
  clock: Clock,
  _ids?: IdSource,
): Promise<LoadedKey> {
  return loadOrCreateKeyWith({ keys, masterKey, purpose, algorithm, clock });
}

/**
 * {@link loadOrCreateKey} with an optional certificate produced for a new key.
 *
 * @param options - store, master key, purpose, algorithm, clock and optional `certify`
 * @returns the record and its opened key pair
 * @throws KeyProtectionError as {@link loadOrCreateKey}; errors of `certify` and of the store propagate
 */
export async function loadOrCreateKeyWith(options: LoadOrCreateKeyOptions): Promise<LoadedKey> {
  const { keys, masterKey, purpose, algorithm } = options;
  const current = await keys.current(purpose);
  if (current !== null) return openKeyRecord(current, masterKey, algorithm);

  const existing = await keys.list(purpose);
  if (existing.some((record) => record.retiredAt === null)) {
    // Another Host created the key between our two reads: take it rather than start a new generation.
    const created = await keys.current(purpose);
    if (created !== null) return openKeyRecord(created, masterKey, algorithm);
  }
  // Only retired keys count, so every racer starts from the same generation and collides on its id.
  let generation = nextGeneration(purpose, existing.filter((record) => record.retiredAt !== null));
  for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++, generation++) {
    const keyId = `${purpose}-${generation}`;
    const { privateKey, publicKey } = generateHostKeyPair(algorithm);
    const certificatePem = options.certify === undefined ? null : await options.certify({ keyId, privateKey, publicKey });
    const record: KeyMaterialRecord = {
      keyId,
      purpose,
      algorithm,
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
      encryptedPrivateKey: sealPrivateKey(masterKey, privateKey.export({ type: "pkcs8", format: "der" }), keyId),
      certificatePem,
      createdAt: options.clock.now(),
      retiredAt: null,
    };
    try {
      await keys.create(record);
      return { record, privateKey, publicKey };
    } catch (err) {
      if (!isErrorCode(err, "ALREADY_EXISTS", "CONFLICT")) throw err;
    }
    // Another Host created this generation first: use its key if it is current.
    const winner = await keys.current(purpose);
    if (winner !== null) return openKeyRecord(winner, masterKey, algorithm);
  }
  throw new KeyProtectionError(`could not create a ${purpose} key after ${MAX_CREATE_ATTEMPTS} attempts`);
}

/**
 * Opens a stored key record and checks it is internally consistent.
 *
 * @param record - the stored record
 * @param masterKey - the master key it was sealed under
 * @param algorithm - the algorithm the caller requires
 * @returns the record and its key pair
 * @throws KeyProtectionError on a wrong algorithm, a blob that does not open, or mismatching public key
 */
export function openKeyRecord(record: KeyMaterialRecord, masterKey: MasterKey, algorithm: HostKeyAlgorithm): LoadedKey {
  if (record.algorithm !== algorithm) {
    throw new KeyProtectionError(`stored ${record.purpose} key ${record.keyId} is ${record.algorithm}, expected ${algorithm}`);
  }
  const der = openPrivateKey(masterKey, record.encryptedPrivateKey, record.keyId);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } catch (cause) {
    throw new KeyProtectionError(`stored ${record.purpose} key ${record.keyId} is not a PKCS#8 key`, { cause });
  } finally {
    der.fill(0);
  }
  const publicKey = createPublicKey(privateKey);
  if (keyAlgorithmOf(privateKey) !== algorithm || !samePublicKey(publicKey, record.publicKeyPem)) {
    throw new KeyProtectionError(`stored ${record.purpose} key ${record.keyId} does not match its public key`);
  }
  return { record, privateKey, publicKey };
}

/**
 * Generates a key pair for the Host.
 *
 * @param algorithm - Ed25519 or ECDSA P-256
 * @returns the new key pair
 */
export function generateHostKeyPair(algorithm: HostKeyAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (algorithm) {
    case "Ed25519":
      return generateKeyPairSync("ed25519");
    case "ECDSA-P256":
      return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  }
}

function keyAlgorithmOf(key: KeyObject): HostKeyAlgorithm | null {
  if (key.asymmetricKeyType === "ed25519") return "Ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ECDSA-P256";
  return null;
}

function samePublicKey(publicKey: KeyObject, storedPem: string): boolean {
  try {
    return publicKey.equals(createPublicKey(storedPem));
  } catch {
    return false;
  }
}

function nextGeneration(purpose: KeyPurpose, existing: readonly KeyMaterialRecord[]): number {
  let highest = 0;
  const prefix = `${purpose}-`;
  for (const record of existing) {
    if (!record.keyId.startsWith(prefix)) continue;
    const generation = Number(record.keyId.slice(prefix.length));
    if (Number.isSafeInteger(generation) && generation > highest) highest = generation;
  }
  return highest + 1;
}
