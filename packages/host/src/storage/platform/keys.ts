/** Host key material (CA, TLS, token and audit signing keys), private halves encrypted. */
import type { Selectable } from "kysely";
import type { KeyMaterialStore } from "@aesp/core";
import type { KeyMaterialRecord, KeyPurpose } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import { guarded, notFound } from "../errors.ts";
import type { KeyMaterialTable } from "../schema.ts";

/** {@link KeyMaterialStore} over the `key_material` table. */
export class KyselyKeyMaterialStore implements KeyMaterialStore {
  private readonly context: StoreContext;

  /** @param context - the database handle (root or transaction). */
  constructor(context: StoreContext) {
    this.context = context;
  }

  /** @throws EnterpriseError ALREADY_EXISTS. */
  async create(record: KeyMaterialRecord): Promise<void> {
    await guarded(() =>
      this.context.db
        .insertInto("key_material")
        .values({
          key_id: record.keyId,
          purpose: record.purpose,
          algorithm: record.algorithm,
          public_key_pem: record.publicKeyPem,
          encrypted_private_key: record.encryptedPrivateKey,
          certificate_pem: record.certificatePem,
          created_at: record.createdAt,
          retired_at: record.retiredAt,
        })
        .execute(),
    );
  }

  /** The newest (by createdAt, then keyId) non-retired key for the purpose, or null. */
  async current(purpose: KeyPurpose): Promise<KeyMaterialRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("key_material")
        .selectAll()
        .where("purpose", "=", purpose)
        .where("retired_at", "is", null)
        .orderBy("created_at", "desc")
        .orderBy("key_id", "desc")
        .limit(1)
        .executeTakeFirst(),
    );
    return row === undefined ? null : toRecord(row);
  }

  /** Every key for the purpose, retired ones included, oldest first. */
  async list(purpose: KeyPurpose): Promise<KeyMaterialRecord[]> {
    const rows = await guarded(() =>
      this.context.db.selectFrom("key_material").selectAll().where("purpose", "=", purpose).orderBy("created_at").orderBy("key_id").execute(),
    );
    return rows.map(toRecord);
  }

  /**
   * Retires the key at `at`; retiring a retired key keeps its first retirement time.
   *
   * @throws EnterpriseError NOT_FOUND when no key has this id.
   */
  async retire(keyId: string, at: number): Promise<void> {
    const result = await guarded(() =>
      this.context.db.updateTable("key_material").set({ retired_at: at }).where("key_id", "=", keyId).where("retired_at", "is", null).executeTakeFirst(),
    );
    if (result.numUpdatedRows > 0n) return;
    const exists = await guarded(() => this.context.db.selectFrom("key_material").select("key_id").where("key_id", "=", keyId).executeTakeFirst());
    if (exists === undefined) throw notFound({ key_id: keyId });
  }
}

function toRecord(row: Selectable<KeyMaterialTable>): KeyMaterialRecord {
  return {
    keyId: row.key_id,
    purpose: row.purpose,
    algorithm: row.algorithm,
    publicKeyPem: row.public_key_pem,
    encryptedPrivateKey: row.encrypted_private_key,
    certificatePem: row.certificate_pem,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}
