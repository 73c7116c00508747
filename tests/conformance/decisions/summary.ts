/**
 * Counts what each runner (core or a gateway protocol, per engine) did with the cases, for the
 * summary printed after the run: cases run, passed, known failures, and skips with their reasons.
 */

export interface RunnerTally {
  run: number;
  passed: number;
  failed: number;
  /** Known failures that failed as known. */
  knownFailures: number;
  /** Known failures that passed: their mark should go. */
  knownFailuresPassing: string[];
  /** Reason → case ids. */
  readonly skipped: Map<string, string[]>;
}

/** Per-runner counters, in the order runners were first named. */
export class Tally {
  readonly #runners = new Map<string, RunnerTally>();

  /**
   * The counters of one runner, created on first use.
   *
   * @param runner - e.g. `core cel`, `gateway grpc-web cel`.
   * @returns The counters.
   */
  of(runner: string): RunnerTally {
    let tally = this.#runners.get(runner);
    if (tally === undefined) {
      tally = { run: 0, passed: 0, failed: 0, knownFailures: 0, knownFailuresPassing: [], skipped: new Map() };
      this.#runners.set(runner, tally);
    }
    return tally;
  }

  /** Records a case the runner did not run. */
  skip(runner: string, caseId: string, reason: string): void {
    const skipped = this.of(runner).skipped;
    skipped.set(reason, [...(skipped.get(reason) ?? []), caseId]);
  }

  /** Records a case the runner ran. */
  result(runner: string, caseId: string, passed: boolean, knownFailure: boolean): void {
    const tally = this.of(runner);
    tally.run += 1;
    if (passed) tally.passed += 1;
    else if (knownFailure) tally.knownFailures += 1;
    else tally.failed += 1;
    if (passed && knownFailure) tally.knownFailuresPassing.push(caseId);
  }

  /**
   * The summary: one line per runner, then each skip reason with its cases.
   *
   * @param title - First line.
   * @returns Printable lines.
   */
  lines(title: string): string[] {
    const out = [title];
    for (const [runner, tally] of this.#runners) {
      const skipped = [...tally.skipped.values()].reduce((sum, ids) => sum + ids.length, 0);
      out.push(
        `  ${runner.padEnd(22)} run ${String(tally.run).padStart(3)}, passed ${String(tally.passed).padStart(3)}, failed ${tally.failed}, ` +
          `known failures ${tally.knownFailures}, skipped ${skipped}${tally.knownFailuresPassing.length > 0 ? ` (known failures now passing: ${tally.knownFailuresPassing.join(", ")})` : ""}`,
      );
    }
    out.push("", "Skipped, by runner and reason:");
    for (const [runner, tally] of this.#runners) {
      for (const [reason, ids] of tally.skipped) {
        const shown = ids.length > 8 ? `${ids.slice(0, 8).join(", ")}, … (${ids.length - 8} more)` : ids.join(", ");
        out.push(`  ${runner}: ${ids.length} - ${reason} [${shown}]`);
      }
    }
    return out;
  }
}
