/**
 * A micro-benchmark of policy decisions, for `npm run bench`.
 *
 * It measures {@link PolicySet.decide} over a tenant holding `policyCount`
 * policies of which `applicablePerDecision` target the invoked contract (the
 * rest target other contracts, as in a real tenant), with the simple
 * conditions policies mostly use, for any {@link PolicyEngine} given the same
 * condition shapes in its language. It reads the monotonic `performance`
 * clock, which is measurement, not domain time.
 */
import type { PolicyEffect, PolicyRecord } from "../records.ts";
import { CelPolicyEngine } from "./cel-engine.ts";
import { PolicyCompiler } from "./compile.ts";
import type { PolicyEngine } from "./engine.ts";
import { PolicySet } from "./evaluate.ts";
import type { Decision } from "./evaluate.ts";
import type { PolicyInput } from "./variables.ts";

/** One condition shape of the benchmark, in the engine's language. */
export interface PolicyBenchCondition {
  readonly condition: string;
  readonly effect: PolicyEffect;
}

/** A sample of the process's memory, supplied by the caller (core reads no process state). */
export interface PolicyBenchMemorySample {
  readonly heapUsed: number;
  readonly rss: number;
}

/** Options of {@link benchPolicyDecisions}. */
export interface PolicyBenchOptions {
  /**
   * How many of the policies target the invoked contract (default `min(policyCount, 10)`;
   * pass `policyCount` for the worst case).
   */
  readonly applicablePerDecision?: number;
  /** The engine to measure; CEL with a fresh compile cache by default. Pass a fresh engine so the build is cold. */
  readonly engine?: PolicyEngine;
  /**
   * The condition shapes, cycled over the policies, in the engine's language
   * (default {@link CEL_BENCH_CONDITIONS}). Give each engine equivalent shapes
   * so that both decide the same thing.
   */
  readonly conditions?: readonly PolicyBenchCondition[];
  /** Samples memory; called after a garbage collection when `collectGarbage` is given. */
  readonly sampleMemory?: () => PolicyBenchMemorySample;
  /** Forces a full garbage collection before each memory sample. */
  readonly collectGarbage?: () => void;
}

/** Latency and throughput of policy decisions. */
export interface PolicyBenchResult {
  /** The engine measured (`cel`, `cedar`). */
  readonly engine: string;
  readonly policyCount: number;
  /** Policies evaluated by each decision (after the applies-to index). */
  readonly applicablePerDecision: number;
  readonly iterations: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  /** Decisions per second, measured sequentially on one core. */
  readonly evalsPerSecond: number;
  /** Building the policy set (compiling every policy), in milliseconds. */
  readonly buildMs: number;
  /** The first decision (an engine may prepare per-call state lazily), in microseconds. */
  readonly firstDecisionUs: number;
  /** Memory held after building the set, then after the timed decisions (null without `sampleMemory`). */
  readonly memoryDelta: { readonly afterBuild: PolicyBenchMemorySample; readonly afterDecisions: PolicyBenchMemorySample } | null;
  /** The decision every timed call produced, so that engines can be checked to agree. */
  readonly decision: { readonly effect: Decision["effect"]; readonly reason: string; readonly auditFlags: number };
}

/** The CEL condition shapes of the benchmark. */
export const CEL_BENCH_CONDITIONS: readonly PolicyBenchCondition[] = [
  { condition: "args.amount < 1000", effect: "ALLOW" },
  { condition: "'finance' in principal.roles", effect: "ALLOW" },
  { condition: "'blocked' in principal.roles", effect: "DENY" },
  { condition: "args.amount > 500", effect: "AUDIT" },
  { condition: 'principal.attributes["department"] == "finance"', effect: "ALLOW" },
  { condition: "request.time.getHours() < 6", effect: "DENY" },
];

/** The call every benchmark decision is made for. */
export const BENCH_POLICY_INPUT: PolicyInput = {
  action: "tools:invoke",
  principal: {
    id: "user-bench",
    type: "USER",
    roles: ["agent", "finance"],
    permissions: ["sessions:create", "tools:invoke", "tools:list"],
    clearance: "confidential",
    attributes: { department: "finance" },
  },
  tenant: { id: "bench" },
  session: { id: "ses_bench", createdAt: Date.UTC(2025, 0, 6, 8, 0) },
  contract: {
    name: "transfer_funds",
    version: "1.0.0",
    classification: "confidential",
    complianceTags: ["SOX"],
    risk: "HIGH",
    requiredRoles: ["finance"],
  },
  args: { amount: 250, currency: "EUR", to: "DE89370400440532013000" },
  request: { timeMs: Date.UTC(2025, 0, 6, 10, 30), sourceIp: "10.0.0.7", userAgent: "bench", correlationId: "bench-1" },
};

/**
 * Measures policy decision latency.
 *
 * @param policyCount - Policies in the tenant.
 * @param iterations - Decisions to time (a tenth as many run first as warm-up).
 * @param options - Applicable count, engine, condition shapes and memory sampling (see {@link PolicyBenchOptions}).
 * @returns p50/p99 latency in nanoseconds, decisions per second, build time and memory.
 *
 * @example
 * benchPolicyDecisions(1000, 20_000); // { p50Ns: …, p99Ns: …, evalsPerSecond: … }
 */
export function benchPolicyDecisions(policyCount: number, iterations: number, options: PolicyBenchOptions = {}): PolicyBenchResult {
  const applicable = Math.min(policyCount, options.applicablePerDecision ?? 10);
  const conditions = options.conditions ?? CEL_BENCH_CONDITIONS;
  const engine = options.engine ?? new CelPolicyEngine({ compiler: new PolicyCompiler() });
  const records: PolicyRecord[] = [];
  for (let index = 0; index < policyCount; index++) {
    const template = conditions[index % conditions.length] as PolicyBenchCondition;
    records.push({
      tenantId: "bench",
      policyId: `pol-${String(index).padStart(5, "0")}`,
      name: `bench policy ${index}`,
      description: "",
      version: 1,
      rule: { condition: template.condition, effect: template.effect, actions: ["tools:invoke"], parameters: {} },
      appliesTo: [index < applicable ? "contract:transfer_funds" : `contract:tool_${index}`],
      enabled: true,
      status: "ACTIVE",
      createdBy: "bench",
      createdAt: 0,
      updatedAt: 0,
      revision: 0,
    });
  }
  const sample = (): PolicyBenchMemorySample | null => {
    if (options.sampleMemory === undefined) return null;
    options.collectGarbage?.();
    return options.sampleMemory();
  };
  const delta = (from: PolicyBenchMemorySample, to: PolicyBenchMemorySample): PolicyBenchMemorySample => ({ heapUsed: to.heapUsed - from.heapUsed, rss: to.rss - from.rss });
  const before = sample();
  const buildStarted = performance.now();
  const policies = PolicySet.build(records, { engine });
  const buildMs = performance.now() - buildStarted;
  const afterBuild = sample();
  const evaluated = policies.applicable(BENCH_POLICY_INPUT).length;
  const firstStarted = performance.now();
  const decision = policies.decide(BENCH_POLICY_INPUT);
  const firstDecisionUs = (performance.now() - firstStarted) * 1000;
  for (let warm = 0; warm < Math.ceil(iterations / 10); warm++) policies.decide(BENCH_POLICY_INPUT);
  const samples = new Float64Array(iterations);
  const started = performance.now();
  for (let index = 0; index < iterations; index++) {
    const before = performance.now();
    policies.decide(BENCH_POLICY_INPUT);
    samples[index] = performance.now() - before;
  }
  const elapsedMs = performance.now() - started;
  const afterDecisions = sample();
  samples.sort();
  const percentileNs = (fraction: number): number =>
    Math.round((samples[Math.min(iterations - 1, Math.floor(fraction * iterations))] ?? 0) * 1e6);
  return {
    engine: engine.id,
    policyCount,
    applicablePerDecision: evaluated,
    iterations,
    p50Ns: percentileNs(0.5),
    p99Ns: percentileNs(0.99),
    evalsPerSecond: Math.round(iterations / (elapsedMs / 1000)),
    buildMs: Math.round(buildMs * 100) / 100,
    firstDecisionUs: Math.round(firstDecisionUs),
    memoryDelta: before === null || afterBuild === null || afterDecisions === null ? null : { afterBuild: delta(before, afterBuild), afterDecisions: delta(before, afterDecisions) },
    decision: { effect: decision.effect, reason: decision.reason, auditFlags: decision.auditFlags.length },
  };
}
