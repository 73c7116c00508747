/**
 * The base of every tenant store: the tenant is fixed at construction.
 *
 * Tenant stores take no tenant argument anywhere. Reads and writes use the
 * bound {@link TenantScopedStore.tenantId} in their `where` clauses, and writes
 * refuse a record that names a different tenant, so a caller holding tenant
 * A's stores cannot reach tenant B's rows by any argument it passes.
 */
import { EnterpriseError } from "@aesp/core";
import type { StoreContext } from "../context.ts";
import type { Codec } from "../dialect.ts";
import { conflict, guarded, notFound } from "../errors.ts";

/** A store bound to one tenant. */
export abstract class TenantScopedStore {
  protected readonly context: StoreContext;
  /** The tenant every query of this store is restricted to. */
  protected readonly tenantId: string;

  /**
   * @param context - the database handle (root or transaction).
   * @param tenantId - the tenant this store is bound to, for its whole life.
   */
  constructor(context: StoreContext, tenantId: string) {
    this.context = context;
    this.tenantId = tenantId;
  }

  protected get codec(): Codec {
    return this.context.profile.codec;
  }

  /**
   * The bound tenant, after checking that `record` belongs to it.
   *
   * @throws EnterpriseError INVALID_ARGUMENT when the record names another tenant.
   */
  protected ownTenant(record: { readonly tenantId: string }): string {
    if (record.tenantId !== this.tenantId) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: "The record's tenant does not match the tenant of the store.",
        details: { field: "tenantId" },
      });
    }
    return this.tenantId;
  }

  /**
   * Explains an optimistic update that changed no row.
   *
   * @param updatedRows - rows the guarded UPDATE changed.
   * @param stillExists - whether the row exists in the bound tenant at all.
   * @throws EnterpriseError NOT_FOUND when the row does not exist in this tenant,
   *   CONFLICT when it exists with another revision.
   */
  protected async requireUpdated(updatedRows: bigint, stillExists: () => Promise<boolean>, details: Record<string, string>): Promise<void> {
    if (updatedRows > 0n) return;
    throw (await stillExists()) ? conflict(details) : notFound(details);
  }

  /**
   * Revokes at `at` every unrevoked credential of a principal in a credential table of the bound
   * tenant (API keys, refresh tokens, client credentials share the shape).
   *
   * @returns how many rows it revoked.
   */
  protected async revokeAllOfPrincipal(table: "api_keys" | "refresh_tokens" | "client_credentials", principalId: string, at: number): Promise<number> {
    const result = await guarded(() =>
      this.context.db
        .updateTable(table)
        .set({ revoked_at: at })
        .where("tenant_id", "=", this.tenantId)
        .where("principal_id", "=", principalId)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows);
  }
}
