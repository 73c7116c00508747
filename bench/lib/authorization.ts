/**
 * Authorization decision latency: the core's compiled policy set deciding one tool call, with a
 * tenant holding 10 to 10,000 policies (the policies targeting other contracts are skipped by the
 * applies-to index, as in a real tenant), plus one worst case where every policy applies.
 */
import { benchPolicyDecisions } from "../../packages/core/src/policy/bench.ts";
import { figure, targeted, targets } from "./figures.ts";
import type { Figure, TargetedFigure } from "./figures.ts";
import { round } from "./load.ts";

/** Settings of the authorization benchmark. */
export interface AuthorizationOptions {
  readonly policyCounts: readonly number[];
  readonly iterations: number;
  /** Also measure `policyCount` policies that all apply to the call (the index cannot help). */
  readonly worstCasePolicies: number;
  readonly log: (line: string) => void;
}

/** One policy count. */
export interface AuthorizationLevel {
  readonly policies: number;
  readonly applicable_per_decision: number;
  readonly iterations: number;
  readonly p50: Figure;
  readonly p99: Figure | TargetedFigure;
  readonly decisions_per_second: Figure;
  /** Compiling the set, warm-up and timing, together. */
  readonly elapsed: Figure;
}

/** The authorization section of the results. */
export interface AuthorizationReport {
  readonly method: string;
  readonly levels: AuthorizationLevel[];
  readonly worst_case: AuthorizationLevel | null;
}

/** Runs every policy count in turn (sequential, one core). */
export function benchAuthorization(options: AuthorizationOptions): AuthorizationReport {
  const run = (policies: number, applicable: number | undefined, iterations: number, withTarget: boolean): AuthorizationLevel => {
    const started = performance.now();
    const result = benchPolicyDecisions(policies, iterations, applicable === undefined ? {} : { applicablePerDecision: applicable });
    const elapsedS = (performance.now() - started) / 1000;
    const p99Us = round(result.p99Ns / 1000, 2);
    options.log(`  ${policies} policies (${result.applicablePerDecision} applicable): p50 ${round(result.p50Ns / 1000, 2)} µs, p99 ${p99Us} µs`);
    return {
      policies,
      applicable_per_decision: result.applicablePerDecision,
      iterations,
      p50: figure(round(result.p50Ns / 1000, 2), "µs"),
      p99: withTarget ? targeted(p99Us, "µs", targets.authorizationP99) : figure(p99Us, "µs"),
      decisions_per_second: figure(result.evalsPerSecond, "decisions/s"),
      elapsed: figure(round(elapsedS, 2), "s"),
    };
  };
  options.log(`authorization decisions: ${options.policyCounts.join(", ")} policies, ${options.iterations} decisions each`);
  const levels = options.policyCounts.map((count) => run(count, undefined, options.iterations, count === 1_000));
  const worstCase = options.worstCasePolicies > 0 ? run(options.worstCasePolicies, options.worstCasePolicies, Math.max(200, Math.floor(options.iterations / 50)), false) : null;
  return {
    method: "PolicySet.decide on one call (sequential); up to 10 policies target the invoked contract, the rest other contracts; six condition shapes",
    levels,
    worst_case: worstCase,
  };
}
