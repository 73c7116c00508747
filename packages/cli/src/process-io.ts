import { spawn } from "node:child_process";
import { AespError } from "@aesp/client";
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
    readSecret: (prompt) => (process.stdin.isTTY ? readSecretFromTerminal(prompt) : readFirstLineOfStdin()),
    openBrowser,
  };
}

/** Reads a line from the terminal in raw mode, echoing nothing; Ctrl-C cancels. */
function readSecretFromTerminal(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    let secret = "";
    const finish = (): void => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (data: Buffer): void => {
      for (const char of data.toString("utf8")) {
        if (char === "\r" || char === "\n" || char === "\u0004") {
          finish();
          resolve(secret);
          return;
        }
        if (char === "\u0003") {
          finish();
          reject(new AespError({ code: "CANCELLED", message: "The login was cancelled." }));
          return;
        }
        if (char === "\u007f" || char === "\b") secret = secret.slice(0, -1);
        else secret += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

/** Reads stdin to its end and returns the first line (a piped password, without its newline). */
async function readFirstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return (Buffer.concat(chunks).toString("utf8").split(/\r?\n/, 1)[0] ?? "");
}

/** Starts the platform's URL opener; rejects when there is none (e.g. a server without a desktop). */
function openBrowser(url: string): Promise<void> {
  const [command, args] = process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { detached: true, stdio: "ignore" });
    child.once("error", reject);
    child.once("spawn", () => {
      child.unref();
      resolve();
    });
  });
}
