/**
 * How figures are written into `bench/results/*.json`: every number carries its unit, and a
 * figure with a BRIEF §9 target carries the target and whether this run met it. Targets are
 * reported, never asserted: missing one never fails the run.
 */

/** A measured number and its unit. */
export interface Figure {
  readonly value: number;
  readonly unit: string;
}

/** A BRIEF §9 target. */
export interface Target {
  /** The target as the BRIEF states it. */
  readonly description: string;
  readonly comparison: ">=" | "<=" | "<" | "==";
  readonly value: number;
  readonly unit: string;
}

/** A figure compared with its target. */
export interface TargetedFigure extends Figure {
  readonly target: Target;
  readonly meets_target: boolean;
}

/** One line of the run's target table. */
export interface TargetCheck {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target: Target;
  readonly meets_target: boolean;
}

/** A figure; NaN and infinities are written as null by JSON.stringify, so readers see "not measured". */
export function figure(value: number, unit: string): Figure {
  return { value, unit };
}

/** A figure with a target; `meets_target` is false when the value is not a finite number. */
export function targeted(value: number, unit: string, target: Target): TargetedFigure {
  return { value, unit, target, meets_target: meets(value, target) };
}

/** Whether `value` satisfies `target`. */
export function meets(value: number, target: Target): boolean {
  if (!Number.isFinite(value)) return false;
  switch (target.comparison) {
    case ">=":
      return value >= target.value;
    case "<=":
      return value <= target.value;
    case "<":
      return value < target.value;
    case "==":
      return value === target.value;
  }
}

/** The BRIEF §9 targets, on 2 cores. */
export const targets = {
  throughputRatio: { description: "governed throughput >= 60% of direct", comparison: ">=", value: 0.6, unit: "ratio" },
  addedP99AtModerateLoad: { description: "p99 added latency <= 1 ms at moderate load (64 in flight)", comparison: "<=", value: 1, unit: "ms" },
  errorsAt10k: { description: "10,000 concurrent in-flight calls with zero errors", comparison: "==", value: 0, unit: "errors" },
  p95At10k: { description: "10,000 concurrent in-flight calls with p95 < 100 ms", comparison: "<", value: 100, unit: "ms" },
  connectedRuntimes: { description: "10,000 connected runtimes", comparison: ">=", value: 10_000, unit: "connections" },
  authorizationP99: { description: "authorization decision p99 <= 20 µs with 1,000 policies", comparison: "<=", value: 20, unit: "µs" },
  durableAudit: { description: "durable audit >= 50,000 events/s", comparison: ">=", value: 50_000, unit: "events/s" },
  verification: { description: "verification >= 1,000,000 events in 10 s", comparison: ">=", value: 100_000, unit: "events/s" },
} as const satisfies Record<string, Target>;
