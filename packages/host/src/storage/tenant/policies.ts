/** Policies of one tenant: every version of every policy is its own row. */
import type { Selectable } from "kysely";
import type { PolicyStore } from "@aesp/core";
import type { ArtifactStatus, PolicyRecord, PolicyRuleDefinition } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { PoliciesTable } from "../schema.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

/**
 * The cursor of a policy page: `policyId@version` of its last record.
 *
 * @param record - the last record of the previous page.
 */
export function policyCursor(record: Pick<PolicyRecord, "policyId" | "version">): string {
  return `${record.policyId}@${record.version}`;
}

/** Splits `policyId@version`; a bare policyId means "after every version of it". */
function parsePolicyCursor(cursor: string): { policyId: string; version: number | null } {
  const at = cursor.lastIndexOf("@");
  const version = cursor.slice(at + 1);
  if (at < 0 || !/^\d{1,15}$/.test(version)) return { policyId: cursor, version: null };
  return { policyId: cursor.slice(0, at), version: Number(version) };
}

/** {@link PolicyStore} over the `policies` table, bound to one tenant. */
export class KyselyPolicyStore extends TenantScopedStore implements PolicyStore {
  /** @throws EnterpriseError ALREADY_EXISTS (same policyId and version), INVALID_ARGUMENT (record of another tenant). */
  async create(record: PolicyRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("policies")
        .values({ tenant_id: tenantId, policy_id: record.policyId, version: record.version, revision: record.revision, ...this.columns(record) })
        .execute(),
    );
  }

  /** One version of a policy, or null when it does not exist in this tenant. */
  async get(policyId: string, version: number): Promise<PolicyRecord | null> {
    const row = await guarded(() =>
      this.context.db
        .selectFrom("policies")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("policy_id", "=", policyId)
        .where("version", "=", version)
        .executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /**
   * Every version of every policy, ordered by (policyId, version).
   * Cursor: {@link policyCursor} of the last record seen (`policyId@version`).
   */
  async list(filter: { status?: ArtifactStatus; limit: number; cursor?: string }): Promise<PolicyRecord[]> {
    const rows = await guarded(() => {
      let query = this.context.db.selectFrom("policies").selectAll().where("tenant_id", "=", this.tenantId);
      if (filter.status !== undefined) query = query.where("status", "=", filter.status);
      if (filter.cursor !== undefined) {
        const after = parsePolicyCursor(filter.cursor);
        const { version } = after;
        query =
          version === null
            ? query.where("policy_id", ">", after.policyId)
            : query.where((eb) =>
                eb.or([eb("policy_id", ">", after.policyId), eb.and([eb("policy_id", "=", after.policyId), eb("version", ">", version)])]),
              );
      }
      return query.orderBy("policy_id").orderBy("version").limit(pageLimit(filter.limit)).execute();
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Replaces one policy version and sets its revision to `expectedRevision + 1`.
   *
   * @throws EnterpriseError CONFLICT (revision moved), NOT_FOUND (no such version in this tenant), INVALID_ARGUMENT.
   */
  async update(record: PolicyRecord, expectedRevision: number): Promise<void> {
    const tenantId = this.ownTenant(record);
    const result = await guarded(() =>
      this.context.db
        .updateTable("policies")
        .set({ ...this.columns(record), revision: expectedRevision + 1 })
        .where("tenant_id", "=", tenantId)
        .where("policy_id", "=", record.policyId)
        .where("version", "=", record.version)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst(),
    );
    await this.requireUpdated(result.numUpdatedRows, async () => (await this.get(record.policyId, record.version)) !== null, {
      policy_id: record.policyId,
      version: String(record.version),
    });
  }

  private columns(record: PolicyRecord) {
    return {
      name: record.name,
      description: record.description,
      rule: this.codec.writeJson(record.rule),
      applies_to: this.codec.writeJson(record.appliesTo),
      enabled: this.codec.writeBoolean(record.enabled),
      status: record.status,
      created_by: record.createdBy,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    };
  }

  private toRecord(row: Selectable<PoliciesTable>): PolicyRecord {
    return {
      tenantId: row.tenant_id,
      policyId: row.policy_id,
      name: row.name,
      description: row.description,
      version: row.version,
      rule: this.codec.readJson<PolicyRuleDefinition>(row.rule),
      appliesTo: this.codec.readJson<string[]>(row.applies_to),
      enabled: this.codec.readBoolean(row.enabled),
      status: row.status,
      createdBy: row.created_by,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      revision: row.revision,
    };
  }
}
