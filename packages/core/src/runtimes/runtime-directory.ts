import { EnterpriseError } from "../errors.ts";
import type { Clock } from "../ports.ts";
import type { SecurityContext } from "../identity/security-context.ts";

/** A tool call as handed to a runtime connection. */
export interface DispatchRequest {
  readonly invocationId: string;
  readonly correlationId: string;
  readonly callId: string;
  readonly contractName: string;
  readonly contractVersion: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** Absolute deadline, epoch ms; the runtime is told and the Host enforces it. */
  readonly deadlineMs: number;
  readonly stream: boolean;
  readonly sessionId: string;
  readonly security: SecurityContext;
}

/** What a runtime answered: content, or an error it reported about the tool itself. */
export type DispatchOutcome =
  | { readonly kind: "success"; readonly content: unknown; readonly executionTimeMs: number }
  | { readonly kind: "error"; readonly errorType: string; readonly message: string; readonly executionTimeMs: number };

/**
 * Port: one live runtime stream. `dispatch` rejects with UNAVAILABLE when the
 * runtime goes away, DEADLINE_EXCEEDED past the deadline and CANCELLED when the
 * signal aborts; it never hangs.
 */
export interface RuntimeConnection {
  readonly connectionId: string;
  readonly runtimeId: string;
  readonly tenantId: string;
  /** Accepted contract ids (`name@version`). */
  readonly contracts: ReadonlySet<string>;
  readonly inFlight: number;
  /** False while draining or when heartbeats stopped. */
  isHealthy(now: number): boolean;
  dispatch(request: DispatchRequest, handlers: { signal: AbortSignal; onChunk?: (payload: unknown) => void }): Promise<DispatchOutcome>;
}

/** Circuit breaker settings, from the `routing` config section. */
export interface BreakerOptions {
  /** Consecutive transport failures that open the circuit. */
  readonly failureThreshold: number;
  /** How long an open circuit refuses before one trial call is let through. */
  readonly openMs: number;
}

type BreakerState = { kind: "closed"; failures: number } | { kind: "open"; until: number } | { kind: "half-open"; trialInFlight: boolean };

/**
 * Knows every runtime connected to this Host and chooses one per call.
 *
 * Rules enforced:
 * - only runtimes of the call's tenant that accepted the exact contract version are candidates;
 * - among healthy candidates with a closed (or trial-ready) circuit, the least outstanding wins;
 * - a runtime whose calls keep failing at the transport level is skipped until its circuit half-opens.
 */
export class RuntimeDirectory {
  readonly #clock: Clock;
  readonly #breaker: BreakerOptions;
  readonly #byContract = new Map<string, Set<RuntimeConnection>>();
  readonly #connections = new Map<string, RuntimeConnection>();
  readonly #breakers = new Map<string, BreakerState>();
  #rotation = 0;

  constructor(deps: { clock: Clock; breaker: BreakerOptions }) {
    this.#clock = deps.clock;
    this.#breaker = deps.breaker;
  }

  /** Makes an admitted connection routable. */
  add(connection: RuntimeConnection): void {
    this.#connections.set(connection.connectionId, connection);
    this.#breakers.set(connection.connectionId, { kind: "closed", failures: 0 });
    for (const contract of connection.contracts) {
      const key = routeKey(connection.tenantId, contract);
      let set = this.#byContract.get(key);
      if (set === undefined) this.#byContract.set(key, (set = new Set()));
      set.add(connection);
    }
  }

  /** Stops routing to a connection (disconnect or drain). */
  remove(connection: RuntimeConnection): void {
    this.#connections.delete(connection.connectionId);
    this.#breakers.delete(connection.connectionId);
    for (const contract of connection.contracts) {
      const key = routeKey(connection.tenantId, contract);
      const set = this.#byContract.get(key);
      set?.delete(connection);
      if (set?.size === 0) this.#byContract.delete(key);
    }
  }

  /** Every routable connection, for listing and draining. */
  list(): RuntimeConnection[] {
    return [...this.#connections.values()];
  }

  /**
   * Chooses the runtime for a call.
   * @throws EnterpriseError UNAVAILABLE (with retry advice) when no candidate can take it.
   */
  pick(tenantId: string, contractId: string): RuntimeConnection {
    const candidates = this.#byContract.get(routeKey(tenantId, contractId));
    const now = this.#clock.now();
    let best: RuntimeConnection | null = null;
    let ties = 0;
    for (const connection of candidates ?? []) {
      if (!connection.isHealthy(now) || !this.#admits(connection.connectionId, now)) continue;
      if (best === null || connection.inFlight < best.inFlight) {
        best = connection;
        ties = 1;
      } else if (connection.inFlight === best.inFlight) {
        // Rotate among equally loaded runtimes so idle ones share the work.
        ties++;
        if (this.#rotation++ % ties === 0) best = connection;
      }
    }
    if (best === null) {
      throw new EnterpriseError("UNAVAILABLE", { tenantId, details: { contract: contractId, reason: candidates === undefined ? "no_runtime_connected" : "no_healthy_runtime" } });
    }
    const state = this.#breakers.get(best.connectionId);
    if (state?.kind === "half-open") this.#breakers.set(best.connectionId, { kind: "half-open", trialInFlight: true });
    return best;
  }

  /** Feeds a call's transport outcome into the runtime's circuit breaker. */
  report(connectionId: string, transportOk: boolean): void {
    const state = this.#breakers.get(connectionId);
    if (state === undefined) return;
    if (transportOk) {
      this.#breakers.set(connectionId, { kind: "closed", failures: 0 });
      return;
    }
    if (state.kind === "half-open" || (state.kind === "closed" && state.failures + 1 >= this.#breaker.failureThreshold)) {
      this.#breakers.set(connectionId, { kind: "open", until: this.#clock.now() + this.#breaker.openMs });
    } else if (state.kind === "closed") {
      this.#breakers.set(connectionId, { kind: "closed", failures: state.failures + 1 });
    }
  }

  /** The breaker state name of a connection, for metrics and listings. */
  breakerState(connectionId: string): "closed" | "open" | "half-open" | "unknown" {
    return this.#breakers.get(connectionId)?.kind ?? "unknown";
  }

  #admits(connectionId: string, now: number): boolean {
    const state = this.#breakers.get(connectionId);
    if (state === undefined || state.kind === "closed") return true;
    if (state.kind === "open") {
      if (now < state.until) return false;
      this.#breakers.set(connectionId, { kind: "half-open", trialInFlight: false });
      return true;
    }
    return !state.trialInFlight;
  }
}

function routeKey(tenantId: string, contractId: string): string {
  return `${tenantId}\u0000${contractId}`;
}
