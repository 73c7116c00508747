/**
 * Runs the `aesp` CLI in process, as the end-to-end suites do: output captured, a throwaway
 * AESP_HOME under `work`, no terminal, no browser.
 */
import { join } from "node:path";
import type { CliIo, HostModule } from "../../packages/cli/src/context.ts";
import { runCli } from "../../packages/cli/src/main.ts";

/** What one run printed and how it exited. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `aesp args…`.
 *
 * @param options.work - the working directory; the profile lives in `work/home` unless `env` says otherwise.
 * @param options.env - extra environment (e.g. `AESP_API_KEY`).
 * @param options.secret - what a password prompt answers; without it a prompt fails the run.
 */
export async function runAesp(args: readonly string[], options: { work: string; env?: Record<string, string>; secret?: string }): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: { AESP_HOME: join(options.work, "home"), ...options.env },
    cwd: options.work,
    stderrIsTty: false,
    waitForShutdownSignal: () => new Promise(() => undefined),
    loadHost: async (): Promise<HostModule> => import("@aesp/host"),
    readSecret: async () => {
      if (options.secret === undefined) throw new Error("this run expected no password prompt");
      return options.secret;
    },
    openBrowser: async () => {
      throw new Error("no browser in this run");
    },
  };
  const code = await runCli([...args], io);
  return { code, stdout, stderr };
}
