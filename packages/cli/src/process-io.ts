import type { CliIo, HostModule } from "./context.ts";

/** The real process as CLI I/O: stdio, environment, signals, and the Host module loaded on demand. */
export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    stderrIsTty: process.stderr.isTTY,
    waitForShutdownSignal: () =>
      new Promise((resolve) => {
        const onSignal = (signal: NodeJS.Signals): void => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          // A second signal while shutting down means "now".
          const force = (): void => {
            process.stderr.write("Stopping immediately.\n");
            process.exit(130);
          };
          process.once("SIGINT", force);
          process.once("SIGTERM", force);
          resolve(signal);
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      }),
    loadHost: async (): Promise<HostModule> => {
      // Dynamic on purpose: only `start` and `audit verify` load the server and its drivers.
      const host: HostModule = await import("@aesp/host");
      return host;
    },
  };
}
