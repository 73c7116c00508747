/**
 * Node bindings of the core's served-proof checks, for `aesp audit proof|checkpoint` (which load
 * the host lazily) and for tests.
 */
import { verifyServedConsistency, verifyServedInclusion } from "@aesp/core/audit";
import type { ProofVerification, ServedInclusion } from "@aesp/core/audit";
import { nodeHasher, nodeSignatureVerifier } from "../crypto/node-crypto-ports.ts";

/**
 * Verifies an inclusion proof served by GetInclusionProof against the given verifier keys.
 *
 * @param served - Event fields, position, proof and signed checkpoint.
 * @param verifierKeys - C2SP verifier keys, current and retired.
 * @param origin - When given, the checkpoint must name it.
 */
export function verifyAuditInclusion(served: ServedInclusion, verifierKeys: readonly string[], origin?: string): ProofVerification {
  return verifyServedInclusion(served, verifierKeys, { hasher: nodeHasher, verifier: nodeSignatureVerifier }, origin);
}

/**
 * Verifies a consistency proof served by GetConsistencyProof.
 *
 * @param served - Sizes, both signed notes and the proof.
 * @param verifierKeys - C2SP verifier keys, current and retired.
 * @param origin - When given, both checkpoints must name it.
 */
export function verifyAuditConsistency(
  served: { oldSize: number; oldNote: string; newNote: string; proof: readonly string[] },
  verifierKeys: readonly string[],
  origin?: string,
): ProofVerification {
  return verifyServedConsistency(served, verifierKeys, { hasher: nodeHasher, verifier: nodeSignatureVerifier }, origin);
}
