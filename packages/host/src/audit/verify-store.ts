import { createPublicKey } from "node:crypto";
import { openStore } from "../storage/index.ts";
import { loadHostConfig } from "../config.ts";
import type { HostConfigSources } from "../config.ts";
import { nodeHasher, nodeSignatureVerifier, rawEd25519PublicKey } from "../crypto/node-crypto-ports.ts";
import { verifyAuditLog } from "@aesp/core/audit";
import type { AuditVerification } from "@aesp/core/audit";
import type { AuditHead, AuditLogStore, AuditRecord } from "@aesp/core";

/**
 * Verifies the whole audit log in a Host's store, offline (the Host need not run).
 *
 * The trusted key is the PEM given by the auditor (`--key`); without one, the public
 * keys stored beside the log are used — convenient, but only as trustworthy as the store.
 */
export async function verifyAuditStore(
  options: HostConfigSources & { publicKeyPem?: string; onProgress?: (verified: number, total: number) => void },
): Promise<AuditVerification & { checkpoints: number; trustedKeySource: "given" | "store" }> {
  const config = await loadHostConfig(options);
  const v = config.values;
  const store = await openStore(
    v["storage.kind"] === "postgres"
      ? { kind: "postgres", connectionString: v["storage.postgres_url"], schema: v["storage.postgres_schema"] }
      : { kind: "sqlite", path: config.sqlitePath },
  );
  try {
    const keyName = v["audit.origin"];
    const trustedKeys =
      options.publicKeyPem !== undefined
        ? [{ keyName, publicKey: rawEd25519PublicKey(createPublicKey(options.publicKeyPem)) }]
        : (await store.platform.keys.list("audit-signing")).map((k) => ({ keyName, publicKey: rawEd25519PublicKey(createPublicKey(k.publicKeyPem)) }));
    const head = await store.platform.auditLog.head();
    const checkpoints = await store.platform.auditLog.listCheckpoints();
    const log = store.platform.auditLog;
    // Whole pages, not records: one promise per page instead of one per record. The next page is
    // requested before this one is verified, so PostgreSQL reads it while the hashes are computed.
    async function* records(): AsyncGenerator<readonly AuditRecord[]> {
      const page = 10_000;
      // A read still in flight when verification stops early is abandoned: its failure must not
      // surface as an unhandled rejection (awaiting `next` still throws it).
      const read = (from: number) => {
        const pending = log.readRange(from, page);
        pending.catch(() => undefined);
        return pending;
      };
      let next = read(0);
      for (let from = 0; ; from += page) {
        const batch = await next;
        const more = batch.length === page;
        if (more) next = read(from + page);
        yield batch;
        if (!more) return;
      }
    }
    const result = await verifyAuditLog({
      records: records(),
      checkpoints,
      trustedKeys,
      hasher: nodeHasher,
      verifier: nodeSignatureVerifier,
      origin: keyName,
      ...(options.onProgress === undefined ? {} : { onProgress: (n: number) => options.onProgress?.(n, head.size) }),
    });
    const extra = { checkpoints: checkpoints.length, trustedKeySource: options.publicKeyPem === undefined ? ("store" as const) : ("given" as const) };
    return { ...(result.ok ? await compareWithHead(result, head, log) : result), ...extra };
  } finally {
    await store.close();
  }
}

/**
 * A verified log must reach the head the store committed (read before the records, so a running
 * Host appending meanwhile only makes the log longer). This catches a tail deleted after the last
 * signed checkpoint, which the chain and the checkpoints cannot see; the head row is not signed,
 * so a tail deleted together with a rewritten head is caught only by a checkpoint kept elsewhere.
 */
async function compareWithHead(result: Extract<AuditVerification, { ok: true }>, head: AuditHead, log: AuditLogStore): Promise<AuditVerification> {
  if (result.size < head.size) {
    return { ok: false, firstBadSeq: result.size, eventId: "", reason: `log truncated: the store committed ${String(head.size)} events, ${String(result.size)} remain` };
  }
  if (head.size === 0) return result;
  const [last] = await log.readRange(head.size - 1, 1);
  if (last?.chainHash !== head.chainHash) {
    return { ok: false, firstBadSeq: head.size - 1, eventId: last?.eventId ?? "", reason: "chain hash differs from the store's committed head (log rewritten)" };
  }
  return result;
}
