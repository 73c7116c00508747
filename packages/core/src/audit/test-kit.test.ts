/**
 * Real port implementations for the audit tests: SHA-256 and Ed25519 from
 * node:crypto, and an in-memory AuditLogStore with the port's semantics
 * (exclusive append lock, all-or-nothing batches) plus failure injection.
 *
 * Named `*.test.ts` only so it may import node:crypto under the core's lint
 * rules; it declares no tests itself.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { AuditLogStore, Clock, Hasher, IdSource, SignatureVerifier, Signer } from "../ports.ts";
import type { AuditCheckpointRecord, AuditEventDraft, AuditHead, AuditRecord } from "../records.ts";
import { linkRecords } from "./canonical.ts";
import { ZERO_HASH_HEX } from "./encoding.ts";

export const sha256: Hasher = {
  sha256: (data) => createHash("sha256").update(data).digest(),
};

export const ed25519Verifier: SignatureVerifier = {
  verifyEd25519(publicKey, message, signature) {
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
    return verify(null, message, key, signature);
  },
};

/** An Ed25519 signer plus its raw public key; `seed` gives a deterministic key (RFC 8032 private key). */
export function ed25519Signer(keyId: string, seed?: Uint8Array): Signer & { signatures: number } {
  let privateKey: KeyObject;
  if (seed === undefined) {
    privateKey = generateKeyPairSync("ed25519").privateKey;
  } else {
    const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seed)]);
    privateKey = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  }
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  const publicKey = new Uint8Array(Buffer.from(jwk.x!, "base64url"));
  const signer = {
    keyId,
    publicKey,
    signatures: 0,
    sign: async (message: Uint8Array) => {
      signer.signatures += 1;
      return new Uint8Array(sign(null, message, privateKey));
    },
  };
  return signer;
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

/** Sequential ids: `evt_1`, `evt_2`, … */
export function sequentialIds(): IdSource {
  let next = 0;
  return {
    newId: (prefix) => `${prefix}_${String(++next)}`,
    newSecret: (bytes) => "s".repeat(bytes),
  };
}

/** A plausible draft; `overrides` replace fields. */
export function draft(index: number, overrides: Partial<AuditEventDraft> = {}): AuditEventDraft {
  return {
    eventId: `evt_${String(index)}`,
    timestampMs: 1_700_000_000_000 + index,
    eventType: index % 3 === 0 ? "tool_call.completed" : "authz.allowed",
    tenantId: `t${String(index % 4)}`,
    principalId: `usr_${String(index % 17)}`,
    sessionId: `ses_${String(index % 101)}`,
    resource: "get_weather",
    action: "InvokeTool",
    outcome: "SUCCESS",
    sourceIp: "127.0.0.1",
    userAgent: "aesp-sdk/1.0",
    correlationId: `cor_${String(index)}`,
    riskScore: "",
    policyViolations: index % 5 === 0 ? ["pol_audit_large"] : [],
    metadata: { contractVersion: "1.0.0", runtimeId: `rt_${String(index % 7)}`, durationMs: String(index % 250) },
    ...overrides,
  };
}

/** A linked log of `n` records. */
export function buildLog(n: number, hasher: Hasher = sha256): AuditRecord[] {
  const drafts = Array.from({ length: n }, (_, i) => draft(i));
  return linkRecords({ size: 0, chainHash: ZERO_HASH_HEX }, drafts, hasher);
}

/**
 * In-memory AuditLogStore. Appends are serialised (the port's exclusive lock)
 * and take one event-loop turn, like a write plus fsync; `failNextAppends`
 * makes the next appends throw without writing anything.
 */
export class MemoryAuditLogStore implements AuditLogStore {
  readonly records: AuditRecord[] = [];
  readonly checkpoints: AuditCheckpointRecord[] = [];
  /** Size of every batch that was committed, in order. */
  readonly batchSizes: number[] = [];
  appendCalls = 0;
  failNextAppends = 0;
  failReads = false;
  failCheckpointSaves = false;
  #lock: Promise<unknown> = Promise.resolve();
  #gate: Promise<void> = Promise.resolve();

  /** Holds every append (inside the lock, before writing) until the returned function is called. */
  blockAppends(): () => void {
    let release!: () => void;
    this.#gate = new Promise<void>((resolve) => (release = resolve));
    return release;
  }

  async append(drafts: readonly AuditEventDraft[], link: (head: AuditHead) => AuditRecord[]): Promise<AuditRecord[]> {
    this.appendCalls += 1;
    const run = this.#lock.then(async () => {
      await this.#gate;
      await nextTurn();
      if (this.failNextAppends > 0) {
        this.failNextAppends -= 1;
        throw new Error("disk full");
      }
      const linked = link(this.#head());
      if (linked.length !== drafts.length) throw new Error("link returned the wrong number of records");
      this.records.push(...linked.map((record) => structuredClone(record)));
      this.batchSizes.push(linked.length);
      return linked;
    });
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async head(): Promise<AuditHead> {
    return this.#head();
  }

  async readRange(fromSeq: number, limit: number): Promise<AuditRecord[]> {
    if (this.failReads) throw new Error("read failed");
    return this.records.slice(fromSeq, fromSeq + limit).map((record) => structuredClone(record));
  }

  async saveCheckpoint(checkpoint: AuditCheckpointRecord): Promise<void> {
    if (this.failCheckpointSaves) throw new Error("checkpoint write failed");
    this.checkpoints.push(structuredClone(checkpoint));
  }

  async latestCheckpoint(): Promise<AuditCheckpointRecord | null> {
    return this.checkpoints.reduce<AuditCheckpointRecord | null>((latest, c) => (latest === null || c.treeSize >= latest.treeSize ? c : latest), null);
  }

  async listCheckpoints(): Promise<AuditCheckpointRecord[]> {
    return this.checkpoints.map((checkpoint) => structuredClone(checkpoint));
  }

  #head(): AuditHead {
    const last = this.records.at(-1);
    return { size: this.records.length, chainHash: last?.chainHash ?? ZERO_HASH_HEX };
  }
}
