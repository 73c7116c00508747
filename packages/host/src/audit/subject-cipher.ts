/**
 * Per-subject encryption of personal fields in audit events (crypto-shredding).
 *
 * Rules it enforces:
 * - The personal fields of an event with a subject (its tenant's principal) are sealed with
 *   AES-256-GCM under that subject's key before the event is hashed, so the leaf, the chain and
 *   every proof cover the ciphertext: destroying the key later changes no hash.
 * - Each ciphertext is bound (GCM AAD) to its tenant, event id and field, so it cannot be moved
 *   to another event or field and still open.
 * - Subject keys are random 256-bit keys wrapped by the Host master key (the same sealing as
 *   other Host keys); erasure overwrites the wrapped key, and readers then see `[ERASED]`.
 * - Keys are cached for `cacheMs` (default one minute) so the hot path reads storage only for
 *   a subject's first event in that time; one batch reads each subject at most once. Another
 *   Host's erasure reaches this Host's cache within `cacheMs`; events sealed meanwhile under the
 *   destroyed key are unreadable too (nobody holds the key any more once the caches expire).
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, randomFillSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { AuditEventDraft, AuditRecord, Clock, IdSource, Store } from "@aesp/core";
import { ERASED, SEALED_PREFIX, UNREADABLE, mapPersonalFields, personalFields, sealedKeyId, sealedKeyIds } from "@aesp/core/audit";
import type { PersonalField } from "@aesp/core/audit";
import { openPrivateKey, sealPrivateKey } from "../crypto/master-key.ts";
import type { MasterKey } from "../crypto/master-key.ts";

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Random IVs drawn from a refilled pool: one `randomFillSync` per 341 IVs instead of one
 * `randomBytes` call per sealed field (measured: the call was 40% of a seal's cost).
 */
const ivPool = Buffer.alloc(IV_BYTES * 341);
let ivOffset = ivPool.length;

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool);
    ivOffset = 0;
  }
  // A copy: the pool is overwritten on refill, the cipher and the stored value must keep this IV.
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES));
  ivOffset += IV_BYTES;
  return iv;
}

interface CachedKey {
  readonly keyId: string;
  /** null: erased. */
  readonly key: KeyObject | null;
  readonly expiresAt: number;
}

/** Dependencies of {@link AuditSubjectCipher}. */
export interface AuditSubjectCipherDeps {
  store: Store;
  masterKey: MasterKey;
  clock: Clock;
  ids: IdSource;
  /** How long a subject key stays cached. Default 60,000 ms. */
  cacheMs?: number;
}

/** Seals personal fields before hashing, reveals them for authorized readers, forgets erased keys. */
export class AuditSubjectCipher {
  readonly #deps: AuditSubjectCipherDeps;
  readonly #cacheMs: number;
  /** `tenant \0 subject` → the subject's live key. */
  readonly #bySubject = new Map<string, CachedKey>();
  /** `tenant \0 keyId` → key (or null once erased). */
  readonly #byId = new Map<string, CachedKey>();

  /** @param deps - Store, master key, clock and ids. */
  constructor(deps: AuditSubjectCipherDeps) {
    this.#deps = deps;
    this.#cacheMs = deps.cacheMs ?? 60_000;
  }

  /**
   * The drafts with their personal fields sealed under their subjects' keys (creating a key on a
   * subject's first event). Drafts without personal data are returned as the same object.
   *
   * @param drafts - One batch, in order.
   * @returns One draft per input.
   * @throws when a key cannot be read or created (the audit log then fails the batch closed).
   */
  async protect(drafts: readonly AuditEventDraft[]): Promise<AuditEventDraft[]> {
    const out: AuditEventDraft[] = [];
    for (const draft of drafts) {
      const fields = personalFields(draft);
      if (fields.length === 0) {
        out.push(draft);
        continue;
      }
      const key = await this.#subjectKey(draft.tenantId, draft.principalId);
      out.push(mapPersonalFields(draft, (value, field) => seal(key, draft.tenantId, draft.eventId, field, value), fields));
    }
    return out;
  }

  /**
   * Records with their sealed fields opened: the plaintext when the subject key is live,
   * `[ERASED]` when it was destroyed, `[UNREADABLE]` when the key is unknown or the ciphertext
   * does not authenticate. Callers must already be authorized to read these records.
   *
   * Each record is opened with its own tenant's keys (a platform auditor may read several).
   *
   * @param records - Records as stored.
   * @returns New records; tombstones and records without sealed fields are returned unchanged.
   */
  async reveal(records: readonly AuditRecord[]): Promise<AuditRecord[]> {
    const byTenant = new Map<string, AuditRecord[]>();
    for (const record of records) {
      if (record.tenantId === "") continue;
      const list = byTenant.get(record.tenantId) ?? [];
      list.push(record);
      byTenant.set(record.tenantId, list);
    }
    for (const [tenantId, list] of byTenant) await this.#loadKeys(tenantId, sealedKeyIds(list));
    return records.map((record) =>
      mapPersonalFields(record, (value, field) => {
        const keyId = sealedKeyId(value);
        const cached = keyId === null ? undefined : this.#byId.get(`${record.tenantId}\0${keyId}`);
        if (cached === undefined) return UNREADABLE;
        if (cached.key === null) return ERASED;
        return open(cached.key, record.tenantId, record.eventId, field, value);
      }),
    );
  }

  /**
   * Destroys every live key of a subject and forgets it here.
   *
   * @param tenantId - The subject's tenant.
   * @param subjectId - The principal.
   * @returns Keys destroyed.
   */
  async erase(tenantId: string, subjectId: string): Promise<number> {
    const destroyed = await this.#deps.store.forTenant(tenantId).auditSubjectKeys.erase(subjectId, this.#deps.clock.now());
    const cached = this.#bySubject.get(`${tenantId}\0${subjectId}`);
    this.#bySubject.delete(`${tenantId}\0${subjectId}`);
    if (cached !== undefined) this.#byId.delete(`${tenantId}\0${cached.keyId}`);
    return destroyed;
  }

  async #subjectKey(tenantId: string, subjectId: string): Promise<{ keyId: string; key: KeyObject }> {
    const now = this.#deps.clock.now();
    const slot = `${tenantId}\0${subjectId}`;
    const cached = this.#bySubject.get(slot);
    if (cached !== undefined && cached.key !== null && cached.expiresAt > now) return { keyId: cached.keyId, key: cached.key };
    const keys = this.#deps.store.forTenant(tenantId).auditSubjectKeys;
    let record = await keys.activeKey(subjectId);
    if (record === null) {
      const keyId = this.#deps.ids.newId("ask");
      const raw = randomBytes(32);
      const created = await keys.create({ tenantId, keyId, subjectId, wrappedKey: sealPrivateKey(this.#deps.masterKey, raw, wrapAad(tenantId, keyId)), createdAt: now, erasedAt: null });
      raw.fill(0);
      // Read back either way: when `created` is false another Host made the subject's key first, and that one is used.
      record = await keys.activeKey(subjectId);
      if (!created && record === null) throw new Error("the audit subject key vanished while it was being created");
      if (record === null) throw new Error("the audit subject key vanished while it was being created");
    }
    const key = unwrap(this.#deps.masterKey, tenantId, record.keyId, record.wrappedKey);
    if (key === null) throw new Error("the live audit subject key has no key material");
    const entry = { keyId: record.keyId, key, expiresAt: now + this.#cacheMs };
    this.#bySubject.set(slot, entry);
    this.#byId.set(`${tenantId}\0${record.keyId}`, entry);
    return { keyId: record.keyId, key };
  }

  async #loadKeys(tenantId: string, keyIds: readonly string[]): Promise<void> {
    const now = this.#deps.clock.now();
    const missing = keyIds.filter((keyId) => (this.#byId.get(`${tenantId}\0${keyId}`)?.expiresAt ?? 0) <= now);
    for (const keyId of missing) this.#byId.delete(`${tenantId}\0${keyId}`);
    if (missing.length === 0) return;
    for (const record of await this.#deps.store.forTenant(tenantId).auditSubjectKeys.byKeyIds(missing)) {
      const key = record.erasedAt === null ? unwrap(this.#deps.masterKey, tenantId, record.keyId, record.wrappedKey) : null;
      this.#byId.set(`${tenantId}\0${record.keyId}`, { keyId: record.keyId, key, expiresAt: now + this.#cacheMs });
    }
  }
}

function wrapAad(tenantId: string, keyId: string): string {
  return `audit-subject-key:${tenantId}:${keyId}`;
}

function unwrap(masterKey: MasterKey, tenantId: string, keyId: string, wrapped: string): KeyObject | null {
  if (wrapped === "") return null;
  const raw = openPrivateKey(masterKey, wrapped, wrapAad(tenantId, keyId));
  const key = createSecretKey(raw);
  raw.fill(0);
  return key;
}

function fieldAad(tenantId: string, eventId: string, field: PersonalField): Buffer {
  return Buffer.from(`${tenantId}\0${eventId}\0${field}`, "utf8");
}

/** `pd1:<keyId>:<base64url(iv || ciphertext || tag)>`. */
function seal(key: { keyId: string; key: KeyObject }, tenantId: string, eventId: string, field: PersonalField, value: string): string {
  const iv = nextIv();
  const cipher = createCipheriv("aes-256-gcm", key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(fieldAad(tenantId, eventId, field));
  const body = Buffer.concat([iv, cipher.update(value, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_PREFIX}${key.keyId}:${body.toString("base64url")}`;
}

function open(key: KeyObject, tenantId: string, eventId: string, field: PersonalField, value: string): string {
  const body = Buffer.from(value.slice(value.indexOf(":", SEALED_PREFIX.length) + 1), "base64url");
  if (body.length < IV_BYTES + TAG_BYTES) return UNREADABLE;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(fieldAad(tenantId, eventId, field));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    return UNREADABLE;
  }
}
