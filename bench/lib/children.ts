/**
 * The parent side of the bench's process protocol: spawns a TypeScript child with this Node,
 * reads its JSON-line messages, sends it commands, and stops it within a bounded time (closing
 * stdin first, then SIGKILL by pid). Every child the bench starts is tracked here so a watchdog
 * can end them all.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** A message from a child: `type` plus whatever fields that type carries. */
export type ChildMessage = { readonly type: string } & Record<string, unknown>;

/** A running child process. */
export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  /**
   * The next message of `type` (already received or future).
   * @throws Error after `timeoutMs`, or when the child exits or reports `{type:"error"}` first.
   */
  next(type: string, timeoutMs: number): Promise<ChildMessage>;
  /** Sends a command, then returns the reply of type `replyType`. */
  request(command: Record<string, unknown> & { cmd: string }, replyType: string, timeoutMs: number): Promise<ChildMessage>;
  send(command: Record<string, unknown> & { cmd: string }): void;
  /** Asks the child to close, waits up to `timeoutMs`, then kills it. Resolves with the exit code. */
  stop(timeoutMs: number): Promise<number | null>;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** The last few kilobytes of its stderr, for error reports. */
  stderrTail(): string;
}

const running = new Set<ChildProcess>();

/** Kills every child still running (the watchdog's last resort). */
export function killAllChildren(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/**
 * Starts `node [nodeFlags] bench/<script> [args]`.
 * @param script - path relative to the `bench/` directory.
 */
export function spawnChild(name: string, script: string, args: readonly string[] = [], nodeFlags: readonly string[] = []): ChildHandle {
  const scriptPath = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const child = spawn(process.execPath, [...nodeFlags, scriptPath, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  running.add(child);
  const inbox: ChildMessage[] = [];
  const watchers = new Set<() => void>();
  let stderr = "";
  let exitCode: number | null = null;
  let hasExited = false;
  const exitedPromise = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      hasExited = true;
      exitCode = code ?? (signal === null ? null : 128);
      running.delete(child);
      for (const wake of watchers) wake();
      resolve(exitCode);
    });
  });
  child.once("error", (err) => {
    stderr += `\nspawn error: ${err.message}`;
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    let message: ChildMessage;
    try {
      message = JSON.parse(line) as ChildMessage;
    } catch {
      stderr = `${stderr}${line}\n`.slice(-8192);
      return;
    }
    inbox.push(message);
    for (const wake of watchers) wake();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8192);
  });
  // A child that is already gone must not crash the bench through EPIPE.
  child.stdin.on("error", () => undefined);

  const send = (command: Record<string, unknown>) => {
    if (!hasExited && child.stdin.writable) child.stdin.write(`${JSON.stringify(command)}\n`);
  };
  const next = (type: string, timeoutMs: number) =>
    new Promise<ChildMessage>((resolve, reject) => {
      const check = (): boolean => {
        const index = inbox.findIndex((m) => m.type === type || m.type === "error");
        if (index !== -1) {
          const [message] = inbox.splice(index, 1) as [ChildMessage];
          if (message.type === "error" && type !== "error") reject(new Error(`${name}: ${String(message["message"])}`));
          else resolve(message);
          return true;
        }
        if (hasExited) {
          reject(new Error(`${name} exited (code ${String(exitCode)}) before sending ${type}: ${tail(stderr)}`));
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        watchers.delete(wake);
        reject(new Error(`${name} sent no ${type} within ${timeoutMs} ms: ${tail(stderr)}`));
      }, timeoutMs);
      const wake = () => {
        if (!check()) return;
        clearTimeout(timer);
        watchers.delete(wake);
      };
      watchers.add(wake);
    });

  return {
    name,
    pid: child.pid ?? -1,
    next,
    send,
    async request(command, replyType, timeoutMs) {
      send(command);
      return next(replyType, timeoutMs);
    },
    get exited() {
      return hasExited;
    },
    stderrTail: () => tail(stderr),
    async stop(timeoutMs) {
      if (hasExited) return exitCode;
      send({ cmd: "close" });
      child.stdin.end();
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<null>((resolve) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve(null);
        }, timeoutMs);
      });
      const code = await Promise.race([exitedPromise, killed]);
      clearTimeout(timer);
      await exitedPromise;
      return code;
    },
  };
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed === "" ? "(no stderr)" : trimmed.slice(-1500);
}
