/**
 * A micro-benchmark of policy decisions, for `npm run bench`.
 *
 * It measures {@link PolicySet.decide} over a tenant holding `policyCount`
 * policies of which `applicablePerDecision` target the invoked contract (the
 * rest target other contracts, as in a real tenant), with the simple
 * conditions policies mostly use. It reads the monotonic `performance` clock,
 * which is measurement, not domain time.
 */
import type { PolicyRecord, PolicyRuleDefinition } from "../records.ts";
import { PolicyCompiler } from "./compile.ts";
import { PolicySet } from "./evaluate.ts";
import type { PolicyInput } from "./variables.ts";

/** Latency and throughput of policy decisions. */
export interface PolicyBenchResult {
  readonly policyCount: number;
  /** Policies evaluated by each decision (after the applies-to index). */
  readonly applicablePerDecision: number;
  readonly iterations: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  /** Decisions per second, measured sequentially on one core. */
  readonly evalsPerSecond: number;
}

const CONDITIONS: readonly Pick<PolicyRuleDefinition, "condition" | "effect">[] = [
  { condition: "args.amount < 1000", effect: "ALLOW" },
  { condition: "'finance' in principal.roles", effect: "ALLOW" },
  { condition: "'blocked' in principal.roles", effect: "DENY" },
  { condition: "args.amount > 500", effect: "AUDIT" },
  { condition: 'principal.attributes["department"] == "finance"', effect: "ALLOW" },
  { condition: "request.time.getHours() < 6", effect: "DENY" },
];

const BENCH_INPUT: PolicyInput = {
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
 * @param options - `applicablePerDecision`: how many of the policies target the invoked
 *   contract (default `min(policyCount, 10)`; pass `policyCount` for the worst case).
 * @returns p50/p99 latency in nanoseconds and decisions per second.
 *
 * @example
 * benchPolicyDecisions(1000, 20_000); // { p50Ns: …, p99Ns: …, evalsPerSecond: … }
 */
export function benchPolicyDecisions(policyCount: number, iterations: number, options: { applicablePerDecision?: number } = {}): PolicyBenchResult {
  const applicable = Math.min(policyCount, options.applicablePerDecision ?? 10);
  const records: PolicyRecord[] = [];
  for (let index = 0; index < policyCount; index++) {
    const template = CONDITIONS[index % CONDITIONS.length] as (typeof CONDITIONS)[number];
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
  const policies = PolicySet.build(records, { compiler: new PolicyCompiler() });
  const evaluated = policies.applicable(BENCH_INPUT).length;
  for (let warm = 0; warm < Math.ceil(iterations / 10); warm++) policies.decide(BENCH_INPUT);
  const samples = new Float64Array(iterations);
  const started = performance.now();
  for (let index = 0; index < iterations; index++) {
    const before = performance.now();
    policies.decide(BENCH_INPUT);
    samples[index] = performance.now() - before;
  }
  const elapsedMs = performance.now() - started;
  samples.sort();
  const percentileNs = (fraction: number): number =>
    Math.round((samples[Math.min(iterations - 1, Math.floor(fraction * iterations))] ?? 0) * 1e6);
  return {
    policyCount,
    applicablePerDecision: evaluated,
    iterations,
    p50Ns: percentileNs(0.5),
    p99Ns: percentileNs(0.99),
    evalsPerSecond: Math.round(iterations / (elapsedMs / 1000)),
  };
}
