/**
 * Migration 8: calls held for approval. A REQUIRE_APPROVAL policy opens an approval request
 * whose artifact id is the call's fingerprint; a retry of the same call finds it by that id.
 */
import type { Migration } from "./migration.ts";

export const callApprovalsSchema: Migration = {
  version: 8,
  name: "call-approvals",
  async up(db) {
    await db.schema.createIndex("approval_requests_by_artifact").on("approval_requests").columns(["tenant_id", "artifact_type", "artifact_id", "created_at"]).execute();
  },
};
