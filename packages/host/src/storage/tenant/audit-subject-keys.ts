/** Per-subject keys of one tenant for personal fields of audit events (crypto-shredding). */
import type { Selectable } from "kysely";
import { EnterpriseError } from "@aesp/core";
import type { AuditSubjectKeyRecord, AuditSubjectKeyStore } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { AuditSubjectKeysTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/**
 * {@link AuditSubjectKeyStore} over `audit_subject_keys`, bound to one tenant. A partial unique
 * index keeps one live key per subject, so two Hosts sealing the same subject's first events at
 * once agree on one key (the loser reads the winner's).
 */
export class KyselyAuditSubjectKeyStore extends TenantScopedStore implements AuditSubjectKeyStore {
  /** The subject's live key, or null. */
  async activeKey(subjectId: string): Promise<AuditSubjectKeyRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("audit_subject_keys").selectAll().where("tenant_id", "=", this.tenantId).where("subject_id", "=", subjectId).where("erased_at", "is", null).executeTakeFirst(),
    );
    return row === undefined ? null : toKey(row);
  }

  /** Inserts a live key; false when the subject already has one. @throws EnterpriseError INVALID_ARGUMENT (record of another tenant). */
  async create(record: AuditSubjectKeyRecord): Promise<boolean> {
    const tenantId = this.ownTenant(record);
    try {
      await guarded(() =>
        this.context.db
          .insertInto("audit_subject_keys")
          .values({ tenant_id: tenantId, key_id: record.keyId, subject_id: record.subjectId, wrapped_key: record.wrappedKey, created_at: record.createdAt, erased_at: record.erasedAt })
          .execute(),
      );
      return true;
    } catch (err) {
      if (err instanceof EnterpriseError && err.code === "ALREADY_EXISTS") return false;
      throw err;
    }
  }

  /** The keys with these ids in this tenant (live and erased). */
  async byKeyIds(keyIds: readonly string[]): Promise<AuditSubjectKeyRecord[]> {
    if (keyIds.length === 0) return [];
    const rows = await guarded(() => this.context.db.selectFrom("audit_subject_keys").selectAll().where("tenant_id", "=", this.tenantId).where("key_id", "in", [...keyIds]).execute());
    return rows.map(toKey);
  }

  /** Destroys the subject's live keys: the wrapped key is overwritten, so no backup of this row can open it again. */
  async erase(subjectId: string, at: number): Promise<number> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("audit_subject_keys")
        .set({ wrapped_key: "", erased_at: at })
        .where("tenant_id", "=", this.tenantId)
        .where("subject_id", "=", subjectId)
        .where("erased_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows);
  }
}

function toKey(row: Selectable<AuditSubjectKeysTable>): AuditSubjectKeyRecord {
  return {
    tenantId: row.tenant_id,
    keyId: row.key_id,
    subjectId: row.subject_id,
    wrappedKey: row.wrapped_key,
    createdAt: Number(row.created_at),
    erasedAt: row.erased_at === null ? null : Number(row.erased_at),
  };
}
