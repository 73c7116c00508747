/** Tool contracts of one tenant, every version and status. */
import type { Selectable } from "kysely";
import type { ContractStore } from "@aesp/core";
import type { ArtifactStatus, ContractRecord, ToolContractDefinition } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { ContractsTable } from "../schema.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link ContractStore} over the `contracts` table, bound to one tenant. */
export class KyselyContractStore extends TenantScopedStore implements ContractStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: ContractRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("contracts")
        .values({ tenant_id: tenantId, contract_id: record.contractId, revision: record.revision, ...this.columns(record) })
        .execute(),
    );
  }

  /** The contract (`name@version`), or null when it does not exist in this tenant. */
  async get(contractId: string): Promise<ContractRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("contracts").selectAll().where("tenant_id", "=", this.tenantId).where("contract_id", "=", contractId).executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /** Contracts ordered by contractId, filtered by definition name and status. Cursor: the last contractId seen. */
  async list(filter: { name?: string; status?: ArtifactStatus; limit: number; cursor?: string }): Promise<ContractRecord[]> {
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("contracts").selectAll().where("tenant_id", "=", this.tenantId);
      if (filter.name !== undefined) query = query.where("name", "=", filter.name);
      if (filter.status !== undefined) query = query.where("status", "=", filter.status);
      if (filter.cursor !== undefined) query = query.where("contract_id", ">", filter.cursor);
      return query.orderBy("contract_id").limit(pageLimit(filter.limit)).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Replaces the contract and sets its revision to `expectedRevision + 1`.
   *
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND (no such contract in this tenant), INVALID_ARGUMENT.
   */
  async update(record: ContractRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .updateTable("contracts")
        .set({ ...this.columns(record), revision: expectedRevision + 1 })
        .where("tenant_id", "=", tenantId)
        .where("contract_id", "=", record.contractId)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst(),
    );
    await this.requireUpdated(result.numUpdatedRows, async () => (await this.get(record.contractId)) !== null, {
      contract_id: record.contractId,
    });
  }

  private columns(record: ContractRecord) {
    return {
      name: record.definition.name,
      definition: this.codec.writeJson(record.definition),
      status: record.status,
      created_by: record.createdBy,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      approved_by: record.approvedBy,
      approved_at: record.approvedAt,
    };
  }

  private toRecord(row: Selectable<ContractsTable>): ContractRecord {
    return {
      tenantId: row.tenant_id,
      contractId: row.contract_id,
      definition: this.codec.readJson<ToolContractDefinition>(row.definition),
      status: row.status,
      createdBy: row.created_by,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      approvedBy: row.approved_by,
      approvedAt: row.approved_at,
      revision: row.revision,
    };
  }
}
