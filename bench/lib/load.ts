/**
 * A closed-loop load generator: `concurrency` workers each issue one call, await it, and issue
 * the next, so exactly that many calls are in flight. A warm-up runs first; only calls that
 * complete inside the measurement window count towards throughput and latency. Every loop is
 * bounded by time and by a call count, and the drain after the window by a timeout.
 */
import { ConnectError, Code } from "@connectrpc/connect";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";

/** How one level is run. */
export interface LoadPlan {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /**
   * The window extends past `measureMs` until this many calls completed in it (or `maxMeasureMs`):
   * at high concurrency one call can take longer than `measureMs`.
   */
  readonly minCompletions: number;
  readonly maxMeasureMs: number;
  /** Most calls issued in the whole level (warm-up included). */
  readonly maxCalls: number;
  /** How long to wait for in-flight calls after the window before giving up on them. */
  readonly drainTimeoutMs: number;
}

/** Latency percentiles, milliseconds. */
export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

/** What one level measured. */
export interface LoadResult {
  readonly concurrency: number;
  readonly measuredMs: number;
  /** Successful calls completed inside the window. */
  readonly completed: number;
  readonly throughputPerSecond: number;
  readonly latencyMs: LatencySummary;
  /** Failed calls that completed inside the window. */
  readonly errorsInWindow: number;
  /** Failed calls over the whole level, warm-up and drain included. */
  readonly errorsTotal: number;
  /** Failures by kind (`connect code/EnterpriseError code` or error name), whole level. */
  readonly errorKinds: Readonly<Record<string, number>>;
  /** A few distinct failure messages, for diagnosis. */
  readonly errorSamples: readonly string[];
  /** Calls still running when the drain timed out. */
  readonly abandoned: number;
  /** Calls issued over the whole level. */
  readonly issued: number;
}

/** Called around the measurement window (e.g. to read CPU counters). */
export interface LoadHooks {
  beforeWindow?(): Promise<void>;
  afterWindow?(): Promise<void>;
}

/**
 * Runs one closed-loop level.
 * @param call - one call; `sequence` is unique within the level. Throws on failure.
 */
export async function runClosedLoop(plan: LoadPlan, call: (sequence: number, worker: number) => Promise<void>, hooks: LoadHooks = {}): Promise<LoadResult> {
  let phase: "warmup" | "measure" | "done" = "warmup";
  let issued = 0;
  let finishedWorkers = 0;
  let inFlight = 0;
  const latencies: number[] = [];
  let errorsInWindow = 0;
  let errorsTotal = 0;
  const errorKinds: Record<string, number> = {};
  const errorSamples = new Set<string>();
  let allDone!: () => void;
  const workersDone = new Promise<void>((resolve) => (allDone = resolve));

  const worker = async (index: number) => {
    try {
      while (phase !== "done" && issued < plan.maxCalls) {
        const sequence = issued++;
        inFlight++;
        const started = performance.now();
        try {
          await call(sequence, index);
          if (phase === "measure") latencies.push(performance.now() - started);
        } catch (err) {
          errorsTotal++;
          if (phase === "measure") errorsInWindow++;
          const kind = errorKind(err);
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
          if (errorSamples.size < 5) errorSamples.add(`${kind} after ${Math.round(performance.now() - started)} ms: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`);
        } finally {
          inFlight--;
        }
      }
    } finally {
      if (++finishedWorkers === plan.concurrency) allDone();
    }
  };
  for (let index = 0; index < plan.concurrency; index++) void worker(index);

  await Promise.race([sleep(plan.warmupMs), workersDone]);
  await hooks.beforeWindow?.();
  phase = "measure";
  const windowStart = performance.now();
  await Promise.race([sleep(plan.measureMs), workersDone]);
  while (latencies.length + errorsInWindow < plan.minCompletions && performance.now() - windowStart < plan.maxMeasureMs && finishedWorkers < plan.concurrency) await sleep(50);
  const measuredMs = performance.now() - windowStart;
  phase = "done";
  await hooks.afterWindow?.();
  await Promise.race([workersDone, sleep(plan.drainTimeoutMs)]);

  const completed = latencies.length;
  return {
    concurrency: plan.concurrency,
    measuredMs: round(measuredMs, 1),
    completed,
    throughputPerSecond: round(completed / (measuredMs / 1000), 1),
    latencyMs: summarize(latencies),
    errorsInWindow,
    errorsTotal,
    // Copies: calls abandoned at the cutoff may still fail later and must not change this report.
    errorKinds: { ...errorKinds },
    errorSamples: [...errorSamples],
    abandoned: inFlight,
    issued,
  };
}

/** Percentiles (nearest rank) of samples in milliseconds. */
export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, mean: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN;
  let sum = 0;
  for (const sample of sorted) sum += sample;
  return { p50: round(at(0.5), 3), p95: round(at(0.95), 3), p99: round(at(0.99), 3), mean: round(sum / sorted.length, 3), max: round(sorted[sorted.length - 1] ?? Number.NaN, 3) };
}

/** `resource_exhausted/RATE_LIMIT_EXCEEDED`, `deadline_exceeded`, `Error`, … */
export function errorKind(err: unknown): string {
  if (err instanceof ConnectError) {
    const enterprise = err.findDetails(EnterpriseErrorSchema)[0]?.code;
    const code = (Code[err.code] ?? String(err.code)).replace(/[A-Z]/g, (c, i: number) => `${i === 0 ? "" : "_"}${c.toLowerCase()}`);
    return enterprise === undefined || enterprise === "" ? code : `${code}/${enterprise}`;
  }
  if (err instanceof Error) return err.message.split(":")[0]?.slice(0, 60) ?? err.name;
  return typeof err;
}

/** Rounds to `digits` decimals (NaN stays NaN). */
export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
