/** Runtime certificates issued by the Host's CA for one tenant. */
import type { Selectable } from "kysely";
import type { CertificateStore } from "@aesp/core";
import type { CertificateRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { CertificatesTable } from "../schema.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link CertificateStore} over the `certificates` table, bound to one tenant. */
export class KyselyCertificateStore extends TenantScopedStore implements CertificateStore {
  /**
   * @throws EnterpriseError ALREADY_EXISTS (the serial is unique across the Host, not only
   *   the tenant), INVALID_ARGUMENT (record of another tenant).
   */
  async create(record: CertificateRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("certificates")
        .values({
          tenant_id: tenantId,
          serial: record.serial,
          runtime_id: record.runtimeId,
          spiffe_id: record.spiffeId,
          not_before: record.notBefore,
          not_after: record.notAfter,
          certificate_pem: record.certificatePem,
          revoked_at: record.revokedAt,
          revocation_reason: record.revocationReason,
        })
        .execute(),
    );
  }

  /** The certificate, or null when no certificate with this serial belongs to this tenant. */
  async get(serial: string): Promise<CertificateRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("certificates").selectAll().where("tenant_id", "=", this.tenantId).where("serial", "=", serial).executeTakeFirst(),
    );
    return row === undefined ? null : toRecord(row);
  }

  /** Every certificate of the runtime, revoked ones included, ordered by (notBefore, serial). */
  async listForRuntime(runtimeId: string): Promise<CertificateRecord[]> {
    const rows = await guarded(() =>
      this.context.db
        .selectFrom("certificates")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("runtime_id", "=", runtimeId)
        .orderBy("not_before")
        .orderBy("serial")
        .execute(),
    );
    return rows.map(toRecord);
  }

  /** Revokes the certificate iff it is not revoked yet; false when unknown here or already revoked. */
  async revoke(serial: string, at: number, reason: string): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("certificates")
        .set({ revoked_at: at, revocation_reason: reason })
        .where("tenant_id", "=", this.tenantId)
        .where("serial", "=", serial)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }
}

function toRecord(row: Selectable<CertificatesTable>): CertificateRecord {
  return {
    tenantId: row.tenant_id,
    serial: row.serial,
    runtimeId: row.runtime_id,
    spiffeId: row.spiffe_id,
    notBefore: row.not_before,
    notAfter: row.not_after,
    certificatePem: row.certificate_pem,
    revokedAt: row.revoked_at,
    revocationReason: row.revocation_reason,
  };
}
