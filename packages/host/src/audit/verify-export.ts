/**
 * Offline verification of an audit export file (`aesp audit verify --export FILE --key KEY`):
 * reads the file line by line and feeds the core's {@link ExportBundleVerifier}, so a file of any
 * size is checked in constant memory. Needs no Host, no database and no network.
 */
import { createPublicKey } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { EnterpriseError } from "@aesp/core";
import { ExportBundleVerifier } from "@aesp/core/audit";
import type { ExportTrustedKey, ExportVerification } from "@aesp/core/audit";
import { nodeHasher, nodeSignatureVerifier, rawEd25519PublicKey } from "../crypto/node-crypto-ports.ts";

/**
 * Verifies an export file.
 *
 * @param file - The path of the JSONL bundle.
 * @param keys - C2SP verifier keys or Ed25519 public key PEMs (several for rotated keys).
 * @param onProgress - Called with the number of events verified, every 10,000 events.
 * @returns OK with what was verified, or the first failure (line, event id, seq, reason).
 * @throws EnterpriseError `INVALID_ARGUMENT` when a PEM key is not an Ed25519 public key.
 */
export async function verifyAuditExport(file: string, keys: readonly string[], onProgress?: (events: number) => void): Promise<ExportVerification> {
  const trusted: ExportTrustedKey[] = keys.map((key) => {
    if (!key.includes("-----BEGIN")) return key.trim();
    try {
      return { publicKey: rawEd25519PublicKey(createPublicKey(key)) };
    } catch {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "The key is not an Ed25519 public key PEM.", details: { field: "key" } });
    }
  });
  const verifier = new ExportBundleVerifier(trusted, { hasher: nodeHasher, verifier: nodeSignatureVerifier });
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let reported = 0;
  for await (const line of lines) {
    if (!verifier.line(line)) break;
    if (onProgress !== undefined && verifier.events - reported >= 10_000) {
      reported = verifier.events;
      onProgress(reported);
    }
  }
  lines.close();
  return verifier.finish();
}
