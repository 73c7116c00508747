import { EnterpriseError } from "../errors.ts";
import type { AuditRecorder } from "../audit-recorder.ts";
import type { Clock, IdSource, Store } from "../ports.ts";
import type { SessionRecord } from "../records.ts";
import type { RequestOrigin, SecurityContext } from "../identity/security-context.ts";
import { requirePermission } from "../identity/require-permission.ts";

/** Session limits, from the `sessions` config section. */
export interface SessionOptions {
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
}

/** A live session plus the calls in flight on it, which `destroy(force)` aborts. */
interface LiveSession {
  readonly record: SessionRecord;
  readonly inFlight: Map<string, AbortController>;
}

/**
 * Creates, resolves and destroys sessions.
 *
 * Rules enforced:
 * - a session binds principal and tenant at creation, for good;
 * - a session is usable only by its own principal in its own tenant; anything else
 *   is SESSION_NOT_FOUND (the same answer as a session that never existed) and is
 *   audited as a cross-tenant attempt when the tenant differs;
 * - an expired or destroyed session is SESSION_NOT_FOUND;
 * - `destroy(force=false)` refuses while calls are in flight; `force` aborts them.
 */
export class SessionManager {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #audit: AuditRecorder;
  readonly #options: SessionOptions;
  readonly #live = new Map<string, LiveSession>();

  constructor(deps: { store: Store; clock: Clock; ids: IdSource; audit: AuditRecorder; options: SessionOptions }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ids = deps.ids;
    this.#audit = deps.audit;
    this.#options = deps.options;
  }

  /**
   * Opens a session for the caller.
   * @throws EnterpriseError AUTHORIZATION_DENIED without `sessions:create`; INVALID_ARGUMENT for a bad TTL.
   */
  async create(ctx: SecurityContext, origin: RequestOrigin, input: { ttlSeconds: number; metadata: Record<string, string> }): Promise<SessionRecord> {
    requirePermission(ctx, "sessions:create");
    const ttl = input.ttlSeconds === 0 ? this.#options.defaultTtlSeconds : input.ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > this.#options.maxTtlSeconds) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "ttl_seconds", max: String(this.#options.maxTtlSeconds) } });
    }
    const metadataEntries = Object.entries(input.metadata);
    if (metadataEntries.length > 32 || metadataEntries.some(([k, v]) => k.length > 64 || v.length > 256)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: "metadata", limit: "32 entries, keys ≤ 64, values ≤ 256 chars" } });
    }
    const now = this.#clock.now();
    const record: SessionRecord = {
      tenantId: ctx.tenantId,
      sessionId: this.#ids.newId("ses"),
      principalId: ctx.principalId,
      createdAt: now,
      expiresAt: now + ttl * 1000,
      destroyedAt: null,
      metadata: Object.fromEntries(metadataEntries),
    };
    await this.#store.forTenant(ctx.tenantId).sessions.create(record);
    this.#live.set(record.sessionId, { record, inFlight: new Map() });
    await this.#audit.record({
      eventType: "session.created",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      sessionId: record.sessionId,
      resource: `session:${record.sessionId}`,
      action: "create",
      outcome: "SUCCESS",
      origin,
      metadata: { expires_at: String(record.expiresAt) },
    });
    return record;
  }

  /**
   * Resolves a session for the caller; never reveals another tenant's or principal's session.
   * @throws EnterpriseError SESSION_NOT_FOUND
   */
  async resolve(ctx: SecurityContext, origin: RequestOrigin, sessionId: string): Promise<SessionRecord> {
    const live = await this.#load(ctx.tenantId, sessionId);
    const now = this.#clock.now();
    if (live === null) {
      await this.#auditForeignSession(ctx, origin, sessionId);
      throw new EnterpriseError("SESSION_NOT_FOUND", { tenantId: ctx.tenantId });
    }
    const { record } = live;
    if (record.principalId !== ctx.principalId || record.destroyedAt !== null || record.expiresAt <= now) {
      if (record.expiresAt <= now) this.#live.delete(sessionId);
      throw new EnterpriseError("SESSION_NOT_FOUND", { tenantId: ctx.tenantId });
    }
    return record;
  }

  /** Registers a call in flight on a session; the returned function unregisters it. */
  track(sessionId: string, invocationId: string, controller: AbortController): () => void {
    const live = this.#live.get(sessionId);
    if (live === undefined) return () => undefined;
    live.inFlight.set(invocationId, controller);
    return () => live.inFlight.delete(invocationId);
  }

  /** Number of calls in flight on a session known to this Host. */
  inFlight(sessionId: string): number {
    return this.#live.get(sessionId)?.inFlight.size ?? 0;
  }

  /**
   * Ends a session. Without `force`, refuses while calls are in flight.
   * @throws EnterpriseError SESSION_NOT_FOUND, INVALID_STATE_TRANSITION
   */
  async destroy(ctx: SecurityContext, origin: RequestOrigin, sessionId: string, force: boolean): Promise<{ aborted: number }> {
    const record = await this.resolve(ctx, origin, sessionId);
    const live = this.#live.get(sessionId);
    const inFlight = live === undefined ? [] : [...live.inFlight.values()];
    if (inFlight.length > 0 && !force) {
      throw new EnterpriseError("INVALID_STATE_TRANSITION", {
        message: "The session has calls in flight; destroy it with force to abort them.",
        details: { in_flight: String(inFlight.length) },
      });
    }
    const now = this.#clock.now();
    await this.#store.forTenant(ctx.tenantId).sessions.markDestroyed(sessionId, now);
    this.#live.delete(sessionId);
    for (const controller of inFlight) controller.abort(new EnterpriseError("CANCELLED", { message: "The session was destroyed." }));
    await this.#audit.record({
      eventType: "session.destroyed",
      tenantId: record.tenantId,
      principalId: ctx.principalId,
      sessionId,
      resource: `session:${sessionId}`,
      action: "destroy",
      outcome: "SUCCESS",
      origin,
      metadata: { force: String(force), aborted_invocations: String(inFlight.length) },
    });
    return { aborted: inFlight.length };
  }

  /**
   * Ends every live session of a principal (deprovisioning) and aborts their calls on this Host.
   * Other Hosts refuse the sessions at once because the principal can no longer authenticate.
   * @returns how many sessions were ended.
   */
  async endForPrincipal(tenantId: string, principalId: string): Promise<number> {
    const now = this.#clock.now();
    const stores = this.#store.forTenant(tenantId);
    const live = await stores.sessions.listLive(now, 10_000);
    let ended = 0;
    for (const record of live) {
      if (record.principalId !== principalId) continue;
      if (await stores.sessions.markDestroyed(record.sessionId, now)) ended++;
      const local = this.#live.get(record.sessionId);
      this.#live.delete(record.sessionId);
      for (const controller of local?.inFlight.values() ?? []) controller.abort(new EnterpriseError("CANCELLED", { message: "The principal was deprovisioned." }));
    }
    return ended;
  }

  async #load(tenantId: string, sessionId: string): Promise<LiveSession | null> {
    const cached = this.#live.get(sessionId);
    if (cached !== undefined) return cached.record.tenantId === tenantId ? cached : null;
    if (!/^ses_[A-Za-z0-9_-]{1,64}$/.test(sessionId)) return null;
    const record = await this.#store.forTenant(tenantId).sessions.get(sessionId);
    if (record === null) return null;
    const live: LiveSession = { record, inFlight: new Map() };
    this.#live.set(sessionId, live);
    return live;
  }

  /** A session id that exists in another tenant is a cross-tenant attempt: audit it as such. */
  async #auditForeignSession(ctx: SecurityContext, origin: RequestOrigin, sessionId: string): Promise<void> {
    const foreign = this.#live.get(sessionId);
    if (foreign === undefined || foreign.record.tenantId === ctx.tenantId) return;
    await this.#audit.record({
      eventType: "security.cross_tenant_attempt",
      tenantId: ctx.tenantId,
      principalId: ctx.principalId,
      resource: `session:${sessionId}`,
      action: "resolve",
      outcome: "DENIED",
      origin,
      riskScore: "HIGH",
    });
  }
}
