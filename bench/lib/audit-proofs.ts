/**
 * Proof generation latency: inclusion proofs served from the stored subtree nodes
 * (`audit_tree_nodes`) of a SQLite log of 10^4, 10^5 and (full mode) 10^6 events, through the
 * same core use-case the gateway calls (`AuditProofs.inclusion`: record lookup, checkpoint
 * lookup, one node read, fold). Each proof measured is also checked against the log's root.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditProofs, CompactRange, fromHex, toHex, verifyInclusion } from "@aesp/core/audit";
import type { AuditEventDraft, AuditHead, AuditRecord } from "@aesp/core";
import { openStore } from "@aesp/host";
import { nodeHasher } from "../../packages/host/src/crypto/node-crypto-ports.ts";
import { figure } from "./figures.ts";
import type { Figure } from "./figures.ts";
import { round, summarize } from "./load.ts";

/** Settings of the proof benchmark. */
export interface AuditProofBenchOptions {
  readonly sizes: readonly number[];
  /** Proofs measured per size (random leaves, one after another). */
  readonly proofs: number;
  readonly log: (line: string) => void;
}

/** Inclusion-proof latency at one log size. */
export interface ProofLatencyReport {
  readonly events: number;
  readonly proofs: number;
  readonly p50: Figure;
  readonly p99: Figure;
  readonly mean: Figure;
  readonly proof_nodes_mean: number;
  /** Time to build the log (appends write the subtree nodes in the same transactions). */
  readonly build_elapsed: Figure;
  readonly all_verified: boolean;
}

/** The proofs section of the results. */
export interface AuditProofsReport {
  readonly backend: "sqlite";
  readonly levels: ProofLatencyReport[];
}

const BATCH = 1000;

function draft(index: number): AuditEventDraft {
  return {
    eventId: `evt_bench_${index}`,
    timestampMs: 1_700_000_000_000 + index,
    eventType: "tool.invoked",
    tenantId: `tenant_${index % 8}`,
    principalId: `usr_${index % 97}`,
    sessionId: `ses_${index % 1013}`,
    resource: "contract:get_weather@1.0.0",
    action: "invoke",
    outcome: "SUCCESS",
    sourceIp: "127.0.0.1",
    userAgent: "aesp-bench/1.0",
    correlationId: `cor_${index}`,
    riskScore: "0.1",
    policyViolations: [],
    metadata: { runtime_id: "rt_weather" },
  };
}

/**
 * Builds each log and measures inclusion-proof latency on it.
 *
 * @param options - Sizes, proofs per size, logger.
 */
export async function benchAuditProofs(options: AuditProofBenchOptions): Promise<AuditProofsReport> {
  const levels: ProofLatencyReport[] = [];
  for (const size of options.sizes) {
    const dir = await mkdtemp(path.join(tmpdir(), "aesp-bench-proofs-"));
    const store = await openStore({ kind: "sqlite", path: path.join(dir, "aesp.db") });
    try {
      options.log(`proofs: building a log of ${size.toLocaleString("en-US")} events on SQLite`);
      const range = new CompactRange(nodeHasher);
      // Leaf hashes need not be canonical event hashes here: the proof only reads stored hashes.
      const leafOf = (index: number) => createHash("sha256").update(`leaf-${index}`).digest();
      const started = performance.now();
      for (let from = 0; from < size; from += BATCH) {
        const drafts = Array.from({ length: Math.min(BATCH, size - from) }, (_, i) => draft(from + i));
        const link = (head: AuditHead): AuditRecord[] =>
          drafts.map((d, i) => {
            const leaf = leafOf(head.size + i);
            range.append(leaf);
            return { ...d, seq: head.size + i, leafHash: toHex(leaf), chainHash: "ab".repeat(32) };
          });
        await store.platform.auditLog.append(drafts, link);
      }
      const buildMs = performance.now() - started;
      const root = range.root();
      await store.platform.auditLog.saveCheckpoint({ treeSize: size, rootHash: toHex(root), chainHash: "ab".repeat(32), signedNote: "bench\n", keyId: "bench", createdAt: 0 });
      const proofs = new AuditProofs({ log: store.platform.auditLog, proofs: store.platform.auditProofs, hasher: nodeHasher });
      const samples: number[] = [];
      let nodes = 0;
      let allVerified = true;
      let seed = 7;
      for (let i = 0; i < options.proofs; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const seq = seed % size;
        const t0 = performance.now();
        const result = await proofs.inclusion({ seq }, null);
        samples.push((performance.now() - t0) * 1000);
        nodes += result.proof.length;
        const proof = result.proof.map((hex) => fromHex(hex)!);
        if (!verifyInclusion(fromHex(result.record.leafHash)!, seq, size, proof, root, nodeHasher)) allVerified = false;
      }
      const summary = summarize(samples);
      levels.push({
        events: size,
        proofs: options.proofs,
        p50: figure(round(summary.p50, 1), "µs"),
        p99: figure(round(summary.p99, 1), "µs"),
        mean: figure(round(summary.mean, 1), "µs"),
        proof_nodes_mean: round(nodes / options.proofs, 1),
        build_elapsed: figure(round(buildMs / 1000, 2), "s"),
        all_verified: allVerified,
      });
      options.log(`proofs: ${size} events: p50 ${round(summary.p50, 1)} µs, p99 ${round(summary.p99, 1)} µs`);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { backend: "sqlite", levels };
}
