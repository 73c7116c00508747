/**
 * Authorization decision latency: the core's policy set deciding one tool call, with a tenant
 * holding 10 to 10,000 policies (the policies targeting other contracts are skipped by the
 * applies-to index, as in a real tenant), plus one worst case where every policy applies.
 *
 * Each size is measured for both policy engines, side by side: CEL (the default) and Cedar
 * (packages/host/src/policy/cedar-engine.ts), deciding equivalent policies (the same six
 * condition shapes written in each language, the same effects and targets) for the same call,
 * so the same policies apply and both must reach the same decision (checked, and reported).
 * Memory is the growth of the V8 heap and of the resident set after a full collection: after
 * building the set, and after the timed decisions (Cedar prepares its per-call policy subset on
 * first use, in wasm memory, which only the resident set shows; wasm memory never shrinks, so
 * an engine's later sizes reuse what its earlier sizes grew).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CEL_BENCH_CONDITIONS, benchPolicyDecisions, type PolicyBenchCondition, type PolicyBenchResult } from "../../packages/core/src/policy/bench.ts";
import { CEDAR_VERSION, CedarPolicyEngine } from "../../packages/host/src/policy/cedar-engine.ts";
import { figure, targeted, targets } from "./figures.ts";
import type { Figure, TargetedFigure } from "./figures.ts";
import { round } from "./load.ts";

/** Settings of the authorization benchmark. */
export interface AuthorizationOptions {
  readonly policyCounts: readonly number[];
  readonly iterations: number;
  /** Also measure `policyCount` policies that all apply to the call (the index cannot help). */
  readonly worstCasePolicies: number;
  /** Timed decisions per size for the Cedar engine (its decisions are slower). */
  readonly cedarIterations: number;
  readonly log: (line: string) => void;
}

/** One policy count, one engine. */
export interface AuthorizationLevel {
  readonly engine: string;
  readonly policies: number;
  readonly applicable_per_decision: number;
  readonly iterations: number;
  readonly p50: Figure;
  readonly p99: Figure | TargetedFigure;
  readonly decisions_per_second: Figure;
  /** Compiling every policy into the set. */
  readonly build: Figure;
  /** The first decision after the build (Cedar preparses the call's policy subset then). */
  readonly first_decision: Figure;
  /** Heap and resident-set growth after the build, then after the timed decisions. */
  readonly memory: {
    readonly heap_used_after_build: Figure;
    readonly rss_after_build: Figure;
    readonly heap_used_after_decisions: Figure;
    readonly rss_after_decisions: Figure;
  } | null;
  /** What every timed decision decided: `<effect>: <reason> (<n> audit flags)`. */
  readonly decision: string;
  /** Building the set, warm-up and timing, together. */
  readonly elapsed: Figure;
}

/** CEL and Cedar at one size. */
export interface EngineComparison {
  readonly policies: number;
  readonly applicable_per_decision: number;
  readonly cel: AuthorizationLevel;
  readonly cedar: AuthorizationLevel;
  /** Cedar's latency over CEL's. */
  readonly p50_ratio: Figure;
  readonly p99_ratio: Figure;
  /** Both engines reached the same decision (effect, reason, audit flags). */
  readonly decisions_agree: boolean;
}

/** The authorization section of the results. */
export interface AuthorizationReport {
  readonly method: string;
  /** The default engine (CEL), as before: the figures the BRIEF §9 target applies to. */
  readonly levels: AuthorizationLevel[];
  readonly worst_case: AuthorizationLevel | null;
  /** CEL and Cedar side by side at every size (the `levels` above are the CEL half). */
  readonly engines: {
    readonly method: string;
    readonly cedar_version: string;
    readonly conditions: { readonly cel: readonly PolicyBenchCondition[]; readonly cedar: readonly PolicyBenchCondition[] };
    readonly levels: EngineComparison[];
    readonly worst_case: EngineComparison | null;
  };
}

/** The CEL shapes of `benchPolicyDecisions` in Cedar, one for one (docs/guides/policy-engines.md has the mapping). */
const CEDAR_CONDITIONS: readonly PolicyBenchCondition[] = [
  { condition: "context.args.amount < 1000", effect: "ALLOW" },
  { condition: 'principal.roles.contains("finance")', effect: "ALLOW" },
  { condition: 'principal.roles.contains("blocked")', effect: "DENY" },
  { condition: "context.args.amount > 500", effect: "AUDIT" },
  { condition: 'principal.attributes["department"] == "finance"', effect: "ALLOW" },
  { condition: "context.request.hourUtc < 6", effect: "DENY" },
];

/** A full collection before each memory sample; `--expose-gc` is switched on here so `npm run bench` needs no flag. */
function garbageCollector(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? () => void (gc as () => unknown)() : undefined;
  } catch {
    return undefined;
  }
}

const megabytes = (bytes: number): Figure => figure(round(bytes / 1e6, 2), "MB");
const signed = (value: number, digits: number): string => `${value >= 0 ? "+" : ""}${round(value, digits)}`;

/** Runs every policy count in turn, CEL then Cedar at each (sequential, one core). */
export function benchAuthorization(options: AuthorizationOptions): AuthorizationReport {
  const collectGarbage = garbageCollector();
  const sampleMemory = () => {
    const usage = process.memoryUsage();
    return { heapUsed: usage.heapUsed, rss: usage.rss };
  };
  const run = (engine: "cel" | "cedar", policies: number, applicable: number | undefined, iterations: number, withTarget: boolean): { level: AuthorizationLevel; result: PolicyBenchResult } => {
    const started = performance.now();
    const result = benchPolicyDecisions(policies, iterations, {
      ...(applicable === undefined ? {} : { applicablePerDecision: applicable }),
      // A fresh engine per size: a cold compile cache, so the build is measured in full.
      ...(engine === "cedar" ? { engine: new CedarPolicyEngine(), conditions: CEDAR_CONDITIONS } : { conditions: CEL_BENCH_CONDITIONS }),
      sampleMemory,
      ...(collectGarbage === undefined ? {} : { collectGarbage }),
    });
    const elapsedS = (performance.now() - started) / 1000;
    const p50Us = round(result.p50Ns / 1000, 2);
    const p99Us = round(result.p99Ns / 1000, 2);
    const memory = result.memoryDelta;
    options.log(
      `  ${engine.padEnd(5)} ${policies} policies (${result.applicablePerDecision} applicable): p50 ${p50Us} µs, p99 ${p99Us} µs, build ${round(result.buildMs, 1)} ms` +
        (memory === null ? "" : `, heap ${signed(memory.afterBuild.heapUsed / 1e6, 2)} MB after build, rss ${signed(memory.afterDecisions.rss / 1e6, 1)} MB after decisions`),
    );
    return {
      result,
      level: {
        engine,
        policies,
        applicable_per_decision: result.applicablePerDecision,
        iterations,
        p50: figure(p50Us, "µs"),
        p99: withTarget ? targeted(p99Us, "µs", targets.authorizationP99) : figure(p99Us, "µs"),
        decisions_per_second: figure(result.evalsPerSecond, "decisions/s"),
        build: figure(round(result.buildMs, 2), "ms"),
        first_decision: figure(result.firstDecisionUs, "µs"),
        memory:
          memory === null
            ? null
            : {
                heap_used_after_build: megabytes(memory.afterBuild.heapUsed),
                rss_after_build: megabytes(memory.afterBuild.rss),
                heap_used_after_decisions: megabytes(memory.afterDecisions.heapUsed),
                rss_after_decisions: megabytes(memory.afterDecisions.rss),
              },
        decision: `${result.decision.effect}: ${result.decision.reason} (${result.decision.auditFlags} audit flags)`,
        elapsed: figure(round(elapsedS, 2), "s"),
      },
    };
  };
  const compare = (policies: number, applicable: number | undefined, celIterations: number, cedarIterations: number, withTarget: boolean): EngineComparison => {
    const cel = run("cel", policies, applicable, celIterations, withTarget);
    const cedar = run("cedar", policies, applicable, cedarIterations, withTarget);
    const agree = cel.level.decision === cedar.level.decision && cel.result.applicablePerDecision === cedar.result.applicablePerDecision;
    if (!agree) options.log(`  the engines disagree at ${policies} policies: cel "${cel.level.decision}", cedar "${cedar.level.decision}"`);
    return {
      policies,
      applicable_per_decision: cel.result.applicablePerDecision,
      cel: cel.level,
      cedar: cedar.level,
      p50_ratio: figure(round(cedar.result.p50Ns / Math.max(1, cel.result.p50Ns), 2), "ratio"),
      p99_ratio: figure(round(cedar.result.p99Ns / Math.max(1, cel.result.p99Ns), 2), "ratio"),
      decisions_agree: agree,
    };
  };
  options.log(
    `authorization decisions: ${options.policyCounts.join(", ")} policies; CEL ${options.iterations} and Cedar ${options.cedarIterations} decisions each; Cedar ${CEDAR_VERSION}` +
      (collectGarbage === undefined ? "; no forced GC, memory figures are noisy" : ""),
  );
  // A discarded round first, so the first measured size does not pay for JIT warm-up and first allocations.
  for (const engine of ["cel", "cedar"] as const) benchPolicyDecisions(10, 2_000, engine === "cedar" ? { engine: new CedarPolicyEngine(), conditions: CEDAR_CONDITIONS } : {});
  const levels = options.policyCounts.map((count) => compare(count, undefined, options.iterations, options.cedarIterations, count === 1_000));
  const worstIterations = (iterations: number) => Math.max(200, Math.floor(iterations / 50));
  const worstCase =
    options.worstCasePolicies > 0
      ? compare(options.worstCasePolicies, options.worstCasePolicies, worstIterations(options.iterations), worstIterations(options.cedarIterations), false)
      : null;
  const table = [...levels, ...(worstCase === null ? [] : [worstCase])];
  options.log("  side by side (µs)   policies  applicable   CEL p50   CEL p99  Cedar p50  Cedar p99  p50 ×  agree");
  for (const row of table) {
    options.log(
      `                      ${String(row.policies).padStart(8)}  ${String(row.applicable_per_decision).padStart(10)}  ${String(row.cel.p50.value).padStart(8)}  ${String(row.cel.p99.value).padStart(8)}  ${String(row.cedar.p50.value).padStart(9)}  ${String(row.cedar.p99.value).padStart(9)}  ${String(row.p50_ratio.value).padStart(5)}  ${row.decisions_agree ? "yes" : "NO"}`,
    );
  }
  return {
    method: "PolicySet.decide on one call (sequential); up to 10 policies target the invoked contract, the rest other contracts; six condition shapes; CEL engine",
    levels: levels.map((level) => level.cel),
    worst_case: worstCase?.cel ?? null,
    engines: {
      method:
        "PolicySet.decide with each engine over equivalent policies and the same call; Cedar answers the applicable policies with one statefulIsAuthorized request against a preparsed subset; memory = growth after a full GC (heap: V8 heap used; rss: includes wasm memory, which never shrinks)",
      cedar_version: CEDAR_VERSION,
      conditions: { cel: CEL_BENCH_CONDITIONS, cedar: CEDAR_CONDITIONS },
      levels,
      worst_case: worstCase,
    },
  };
}
