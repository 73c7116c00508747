import { EnterpriseError } from "../errors.ts";
import type { Clock, Store } from "../ports.ts";
import type { BreakGlassGrantRecord, ContractRecord, PolicyEngineId, PrincipalRecord, TenantRecord } from "../records.ts";
import { CompiledContract } from "../contracts/index.ts";
import { canServe } from "../contracts/index.ts";
import { RoleGraph } from "../rbac/index.ts";
import { PolicySet, rolloutRecords } from "../policy/index.ts";
import type { PolicyEngine, RolloutView } from "../policy/index.ts";
import { celPolicyEngine } from "../policy/cel-engine.ts";

/** A contract version the Host can serve, with its schemas compiled once. */
export interface ServableContract {
  readonly record: ContractRecord;
  readonly compiled: CompiledContract;
}

/**
 * Everything the hot path needs about one tenant, as an immutable value:
 * roles, servable contracts and the active policy set. Replaced wholesale when
 * a change commits, so a call sees one consistent version and never reads storage.
 */
export interface TenantSnapshot {
  readonly tenant: TenantRecord;
  readonly version: number;
  /** The tenant's stored change epoch when the snapshot was read (see {@link TenantDirectory.currentSnapshot}). */
  readonly epoch: number;
  readonly roles: RoleGraph;
  readonly policies: PolicySet;
  /** name → version → contract, servable versions only (ACTIVE, DEPRECATED). */
  readonly contracts: ReadonlyMap<string, ReadonlyMap<string, ServableContract>>;
  /** Break-glass grants stored ACTIVE; each use still checks `expiresAt` against the clock. */
  readonly breakGlass: readonly BreakGlassGrantRecord[];
  /**
   * The tenant's RUNNING policy rollout, if any (at most one). `policies` then holds the baseline
   * side (a canary's ACTIVE candidate left out); the candidate side is here.
   */
  readonly rollout?: RolloutView | null;
}

/** The newest servable version of a contract, or the pinned version when given. */
export function findServableContract(snapshot: TenantSnapshot, name: string, version: string): ServableContract | null {
  const versions = snapshot.contracts.get(name);
  if (versions === undefined) return null;
  if (version !== "") return versions.get(version) ?? null;
  let best: ServableContract | null = null;
  for (const candidate of versions.values()) {
    if (best === null || compareSemver(candidate.record.definition.contractVersion, best.record.definition.contractVersion) > 0) {
      // An ACTIVE version always beats a DEPRECATED one as the default choice.
      if (best !== null && best.record.status === "ACTIVE" && candidate.record.status !== "ACTIVE") continue;
      best = candidate;
    } else if (best.record.status !== "ACTIVE" && candidate.record.status === "ACTIVE") {
      best = candidate;
    }
  }
  return best;
}

/** Orders SemVer strings by precedence (prerelease below release). */
export function compareSemver(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = "", pre = ""] = v.split("+")[0]?.split("-", 2) ?? [];
    return { nums: core.split(".").map((n) => Number.parseInt(n, 10)), pre };
  };
  const left = parse(a);
  const right = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (left.nums[i] ?? 0) - (right.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (left.pre === right.pre) return 0;
  if (left.pre === "") return 1;
  if (right.pre === "") return -1;
  return left.pre < right.pre ? -1 : 1;
}

interface CachedPrincipal {
  readonly record: PrincipalRecord;
  readonly loadedAt: number;
}

/**
 * Holds the current {@link TenantSnapshot} of every tenant and a short-lived
 * cache of principals. `refresh` rebuilds a tenant after a committed change;
 * concurrent refreshes of one tenant share one rebuild.
 *
 * Several Hosts may share one database. `refresh` therefore also raises the
 * tenant's stored change epoch, and {@link TenantDirectory.currentSnapshot}
 * (called once per authenticated call) compares it with the epoch its snapshot
 * was read at: one primary-key read, and a change committed on any Host is
 * seen by the next call on every Host, without a restart or a broadcast.
 */
export class TenantDirectory {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #principalTtlMs: number;
  readonly #snapshots = new Map<string, TenantSnapshot>();
  readonly #building = new Map<string, Promise<TenantSnapshot | null>>();
  readonly #principals = new Map<string, CachedPrincipal>();
  #version = 0;

  /** The policy engines tenants may choose, by id; a tenant's snapshot is built with its own. */
  readonly engines: Readonly<Record<PolicyEngineId, PolicyEngine>>;

  /**
   * @param deps - `engines`: the engine of each id (CEL for both ids by default, so a core without
   *   the host's Cedar adapter still runs; the host supplies the real Cedar engine).
   */
  constructor(deps: { store: Store; clock: Clock; principalTtlMs?: number; engines?: Partial<Record<PolicyEngineId, PolicyEngine>> }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#principalTtlMs = deps.principalTtlMs ?? 30_000;
    this.engines = { cel: deps.engines?.cel ?? celPolicyEngine, cedar: deps.engines?.cedar ?? deps.engines?.cel ?? celPolicyEngine };
  }

  /** The engine the tenant's policies are written for (CEL for an unknown tenant). */
  async engineOf(tenantId: string): Promise<PolicyEngine> {
    const snapshot = await this.snapshot(tenantId);
    return this.engines[snapshot?.tenant.policyEngine ?? "cel"];
  }

  /** The tenant's snapshot, built on first use; null when the tenant does not exist. */
  async snapshot(tenantId: string): Promise<TenantSnapshot | null> {
    return this.#snapshots.get(tenantId) ?? (await this.#load(tenantId));
  }

  /**
   * The tenant's snapshot, rebuilt first when any Host committed a change since it was read
   * (the stored epoch moved); cached principals of the tenant are then dropped too. Costs one
   * primary-key read: meant for the start of each authenticated call, after which the cheaper
   * {@link TenantDirectory.snapshot} serves the rest of the call.
   */
  async currentSnapshot(tenantId: string): Promise<TenantSnapshot | null> {
    const epoch = await this.#store.forTenant(tenantId).epoch.current();
    const cached = this.#snapshots.get(tenantId);
    if (cached !== undefined && cached.epoch >= epoch) return cached;
    this.#forgetPrincipals(tenantId);
    return this.#load(tenantId);
  }

  /**
   * The tenant's snapshot, or NOT_FOUND / TENANT_SUSPENDED.
   * @throws EnterpriseError NOT_FOUND, TENANT_SUSPENDED
   */
  async activeSnapshot(tenantId: string): Promise<TenantSnapshot> {
    const snapshot = await this.snapshot(tenantId);
    if (snapshot === null) throw new EnterpriseError("NOT_FOUND");
    if (snapshot.tenant.status !== "ACTIVE") throw new EnterpriseError("TENANT_SUSPENDED", { tenantId });
    return snapshot;
  }

  /**
   * After a committed change: raises the tenant's stored epoch (so every other Host rebuilds on
   * its next call), then rebuilds this Host's snapshot from storage and swaps it in atomically.
   */
  async refresh(tenantId: string): Promise<TenantSnapshot | null> {
    await this.#store.forTenant(tenantId).epoch.advance();
    return this.#load(tenantId);
  }

  #load(tenantId: string): Promise<TenantSnapshot | null> {
    const inFlight = this.#building.get(tenantId);
    if (inFlight !== undefined) return inFlight.then(() => this.#rebuild(tenantId));
    const build = this.#rebuild(tenantId).finally(() => this.#building.delete(tenantId));
    this.#building.set(tenantId, build);
    return build;
  }

  /** Drops cached principals of a tenant (after role or status changes). */
  forgetPrincipal(tenantId: string, principalId: string): void {
    this.#principals.delete(`${tenantId}\u0000${principalId}`);
  }

  #forgetPrincipals(tenantId: string): void {
    const prefix = `${tenantId}\u0000`;
    for (const key of this.#principals.keys()) if (key.startsWith(prefix)) this.#principals.delete(key);
  }

  /** The principal's record, cached briefly; null when absent. */
  async principal(tenantId: string, principalId: string): Promise<PrincipalRecord | null> {
    const key = `${tenantId}\u0000${principalId}`;
    const cached = this.#principals.get(key);
    const now = this.#clock.now();
    if (cached !== undefined && now - cached.loadedAt < this.#principalTtlMs) return cached.record;
    const record = await this.#store.forTenant(tenantId).principals.get(principalId);
    if (record === null) {
      this.#principals.delete(key);
      return null;
    }
    this.#principals.set(key, { record, loadedAt: now });
    return record;
  }

  async #rebuild(tenantId: string): Promise<TenantSnapshot | null> {
    const stores = this.#store.forTenant(tenantId);
    // Read before anything else: a change that commits after this read also raises the epoch
    // past it, so a snapshot never carries an epoch newer than its content.
    const epoch = await stores.epoch.current();
    const tenant = await this.#store.platform.tenants.get(tenantId);
    if (tenant === null) {
      this.#snapshots.delete(tenantId);
      return null;
    }
    const [roleRecords, groupBindings, contractRecords, policyRecords, breakGlass, running] = await Promise.all([
      stores.roles.list(),
      stores.groupRoleBindings.list(),
      listAll((cursor) => stores.contracts.list({ limit: 500, ...(cursor === undefined ? {} : { cursor }) }), (c) => c.contractId),
      listAll((cursor) => stores.policies.list({ status: "ACTIVE", limit: 500, ...(cursor === undefined ? {} : { cursor }) }), (p) => `${p.policyId}`),
      listAll((cursor) => stores.breakGlass.list({ status: "ACTIVE", limit: 500, ...(cursor === undefined ? {} : { cursor }) }), (g) => g.grantId),
      stores.policyRollouts.list({ status: "RUNNING", limit: 1 }),
    ]);
    const contracts = new Map<string, Map<string, ServableContract>>();
    for (const record of contractRecords) {
      if (!canServe(record.status)) continue;
      let versions = contracts.get(record.definition.name);
      if (versions === undefined) contracts.set(record.definition.name, (versions = new Map<string, ServableContract>()));
      versions.set(record.definition.contractVersion, { record, compiled: CompiledContract.compile(record.definition) });
    }
    const active = policyRecords.filter((p) => p.status === "ACTIVE" && p.enabled);
    let policies = active;
    const engine = this.engines[tenant.policyEngine] ?? celPolicyEngine;
    let rollout: RolloutView | null = null;
    const runningRollout = running[0];
    if (runningRollout !== undefined) {
      const candidate = await stores.policies.get(runningRollout.policyId, runningRollout.candidateVersion);
      const sides = rolloutRecords(policyRecords, runningRollout, candidate);
      policies = sides.baseline.filter((p) => p.status === "ACTIVE" && p.enabled);
      rollout = { record: runningRollout, candidate: PolicySet.build(sides.candidate, { engine }) };
    }
    const snapshot: TenantSnapshot = {
      tenant,
      version: ++this.#version,
      epoch,
      roles: RoleGraph.build(roleRecords, groupBindings),
      policies: PolicySet.build(policies, { engine }),
      contracts,
      breakGlass,
      rollout,
    };
    // Rebuilds of one tenant may finish out of order; an older read never replaces a newer one.
    const current = this.#snapshots.get(tenantId);
    if (current !== undefined && current.epoch > epoch) return current;
    this.#snapshots.set(tenantId, snapshot);
    return snapshot;
  }
}

async function listAll<T>(page: (cursor: string | undefined) => Promise<T[]>, key: (item: T) => string): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const items = await page(cursor);
    all.push(...items);
    if (items.length < 500) return all;
    cursor = key(items[items.length - 1] as T);
  }
}
