/** Sessions of one tenant. A session's tenant is its primary-key prefix, so it can never change. */
import type { Selectable } from "kysely";
import type { SessionStore } from "@aesp/core";
import type { SessionRecord } from "@aesp/core";
import { guarded } from "../errors.ts";
import type { SessionsTable } from "../schema.ts";
import { pageLimit } from "../paging.ts";
import { TenantScopedStore } from "./scope.ts";

/** {@link SessionStore} over the `sessions` table, bound to one tenant. */
export class KyselySessionStore extends TenantScopedStore implements SessionStore {
  /** @throws EnterpriseError ALREADY_EXISTS, INVALID_ARGUMENT (record of another tenant). */
  async create(record: SessionRecord): Promise<void> {
    const tenantId = this.ownTenant(record);
    await guarded(() =>
      this.context.db
        .insertInto("sessions")
        .values({
          tenant_id: tenantId,
          session_id: record.sessionId,
          principal_id: record.principalId,
          created_at: record.createdAt,
          expires_at: record.expiresAt,
          destroyed_at: record.destroyedAt,
          metadata: this.codec.writeJson(record.metadata),
        })
        .execute(),
    );
  }

  /** The session, destroyed or not, or null when it does not exist in this tenant. */
  async get(sessionId: string): Promise<SessionRecord | null> {
    const row = await guarded(() =>
      this.context.db.selectFrom("sessions").selectAll().where("tenant_id", "=", this.tenantId).where("session_id", "=", sessionId).executeTakeFirst(),
    );
    return row === undefined ? null : this.toRecord(row);
  }

  /** Marks the session destroyed at `at`; false when it is unknown here or was already destroyed. */
  async markDestroyed(sessionId: string, at: number): Promise<boolean> {
    const result = await guarded(() =>
      this.context.db
        .updateTable("sessions")
        .set({ destroyed_at: at })
        .where("tenant_id", "=", this.tenantId)
        .where("session_id", "=", sessionId)
        .where("destroyed_at", "is", null)
        .executeTakeFirst(),
    );
    return result.numUpdatedRows > 0n;
  }

  /** Up to `limit` sessions neither destroyed nor expired at `now` (expiresAt > now), ordered by id. */
  async listLive(now: number, limit: number): Promise<SessionRecord[]> {
    const rows = await guarded(() =>
      this.context.db
        .selectFrom("sessions")
        .selectAll()
        .where("tenant_id", "=", this.tenantId)
        .where("destroyed_at", "is", null)
        .where("expires_at", ">", now)
        .orderBy("session_id")
        .limit(pageLimit(limit))
        .execute(),
    );
    return rows.map((row) => this.toRecord(row));
  }

  private toRecord(row: Selectable<SessionsTable>): SessionRecord {
    return {
      tenantId: row.tenant_id,
      sessionId: row.session_id,
      principalId: row.principal_id,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      destroyedAt: row.destroyed_at,
      metadata: this.codec.readJson<Record<string, string>>(row.metadata),
    };
  }
}
