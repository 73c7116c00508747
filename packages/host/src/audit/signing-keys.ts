/**
 * The audit signing keys, shared by every Host through the key store.
 *
 * Rules enforced here:
 * - The newest unretired `audit-signing` key signs checkpoints; rotating retires it and makes a
 *   new one current. Retired keys are never deleted, so every checkpoint ever signed stays
 *   verifiable: {@link AuditSigningKeys.verifierKeys} lists them all.
 * - The {@link Signer} handed to the audit log reads the current key at each use, so a rotation
 *   takes effect at the next checkpoint without reopening the log. The log reads the public key
 *   and key id before it calls `sign`, and `sign` is called synchronously after, so one
 *   checkpoint never mixes two keys.
 * - Another Host's rotation is picked up by {@link AuditSigningKeys.reload} (the Host calls it
 *   before its scheduled checkpoints).
 */
import { createPublicKey, sign as ed25519Sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { Clock, KeyMaterialStore, Signer } from "@aesp/core";
import { formatVerifierKey } from "@aesp/core/audit";
import { loadOrCreateKey, openKeyRecord } from "../crypto/key-material.ts";
import type { MasterKey } from "../crypto/master-key.ts";
import { nodeHasher, rawEd25519PublicKey } from "../crypto/node-crypto-ports.ts";

const PURPOSE = "audit-signing";

/** One audit signing key as verifiers need it. */
export interface AuditVerifierKeyInfo {
  readonly keyId: string;
  /** C2SP verifier key: `<origin>+<hex id>+<base64(0x01 || key)>`. */
  readonly verifierKey: string;
  readonly publicKeyPem: string;
  readonly publicKeyRaw: Uint8Array;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

interface CurrentKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKeyRaw: Uint8Array;
  readonly publicKeyPem: string;
}

/** The audit key ring; see the module comment. */
export class AuditSigningKeys {
  readonly #keys: KeyMaterialStore;
  readonly #masterKey: MasterKey;
  readonly #clock: Clock;
  readonly #origin: string;
  #current: CurrentKey;

  private constructor(keys: KeyMaterialStore, masterKey: MasterKey, clock: Clock, origin: string, current: CurrentKey) {
    this.#keys = keys;
    this.#masterKey = masterKey;
    this.#clock = clock;
    this.#origin = origin;
    this.#current = current;
  }

  /**
   * Loads the current key, creating the first one on a new store.
   *
   * @param keys - The platform key store.
   * @param masterKey - Seals and opens private keys.
   * @param clock - Stamps creation and retirement.
   * @param origin - The checkpoint origin, which is also the key name in verifier keys.
   */
  static async open(keys: KeyMaterialStore, masterKey: MasterKey, clock: Clock, origin: string): Promise<AuditSigningKeys> {
    const loaded = await loadOrCreateKey(keys, masterKey, PURPOSE, "Ed25519", clock);
    return new AuditSigningKeys(keys, masterKey, clock, origin, toCurrent(loaded.record.keyId, loaded.privateKey, loaded.record.publicKeyPem));
  }

  /** The id of the key that signs the next checkpoint. */
  get currentKeyId(): string {
    return this.#current.keyId;
  }

  /** The current key's PEM public half. */
  get currentPublicKeyPem(): string {
    return this.#current.publicKeyPem;
  }

  /** A signer that always signs with the current key. */
  signer(): Signer {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getters below must read the ring's current key
    const ring = this;
    return {
      get keyId(): string {
        return ring.#current.keyId;
      },
      get publicKey(): Uint8Array {
        return ring.#current.publicKeyRaw;
      },
      async sign(message: Uint8Array): Promise<Uint8Array> {
        const signature = ed25519Sign(null, message, ring.#current.privateKey);
        return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
      },
    };
  }

  /** Picks up a key another Host made current. */
  async reload(): Promise<void> {
    const current = await this.#keys.current(PURPOSE);
    if (current === null || current.keyId === this.#current.keyId) return;
    const opened = openKeyRecord(current, this.#masterKey, "Ed25519");
    this.#current = toCurrent(current.keyId, opened.privateKey, current.publicKeyPem);
  }

  /**
   * Retires the current key and makes a new one current.
   *
   * @returns The new key's id and the retired one's.
   */
  async rotate(): Promise<{ keyId: string; previousKeyId: string }> {
    await this.reload();
    const previousKeyId = this.#current.keyId;
    await this.#keys.retire(previousKeyId, this.#clock.now());
    const next = await loadOrCreateKey(this.#keys, this.#masterKey, PURPOSE, "Ed25519", this.#clock);
    this.#current = toCurrent(next.record.keyId, next.privateKey, next.record.publicKeyPem);
    return { keyId: next.record.keyId, previousKeyId };
  }

  /** Every audit signing key, current and retired, oldest first. */
  async verifierKeys(): Promise<AuditVerifierKeyInfo[]> {
    const records = await this.#keys.list(PURPOSE);
    return records.map((record) => {
      const publicKeyRaw = rawEd25519PublicKey(createPublicKey(record.publicKeyPem));
      return {
        keyId: record.keyId,
        verifierKey: formatVerifierKey({ keyName: this.#origin, publicKey: publicKeyRaw }, nodeHasher),
        publicKeyPem: record.publicKeyPem,
        publicKeyRaw,
        createdAt: record.createdAt,
        retiredAt: record.retiredAt,
      };
    });
  }
}

function toCurrent(keyId: string, privateKey: KeyObject, publicKeyPem: string): CurrentKey {
  return { keyId, privateKey, publicKeyRaw: rawEd25519PublicKey(createPublicKey(privateKey)), publicKeyPem };
}
