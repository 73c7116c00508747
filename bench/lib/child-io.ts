/**
 * The child side of the bench's process protocol: JSON lines out on stdout, JSON-line commands in
 * on stdin. A child treats the end of stdin as `close`, so it never outlives the bench process.
 */
import { createInterface } from "node:readline";

/** A command sent by the bench process. */
export interface ChildCommand {
  readonly cmd: string;
  readonly [field: string]: unknown;
}

/** Writes one message to the parent. */
export function emit(message: { type: string } & Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * Calls `handle` for every command from the parent, one at a time, and once more with
 * `{ cmd: "close" }` when stdin ends (the parent is gone or done).
 */
export function onCommands(handle: (command: ChildCommand) => Promise<void>): void {
  const lines = createInterface({ input: process.stdin });
  let chain: Promise<void> = Promise.resolve();
  let closing = false;
  const run = (command: ChildCommand) => {
    if (closing) return;
    if (command.cmd === "close") closing = true;
    chain = chain.then(() => handle(command)).catch((err: unknown) => emit({ type: "error", message: messageOf(err) }));
  };
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    try {
      run(JSON.parse(line) as ChildCommand);
    } catch (err) {
      emit({ type: "error", message: `unreadable command: ${messageOf(err)}` });
    }
  });
  lines.on("close", () => run({ cmd: "close" }));
}

/**
 * Ends the process after `work`, or after `graceMs` whatever `work` is doing, so a stuck
 * shutdown step can never keep a child alive.
 */
export async function exitAfter(work: Promise<unknown>, graceMs: number, code = 0): Promise<never> {
  const timer = setTimeout(() => process.exit(code === 0 ? 3 : code), graceMs);
  try {
    await work;
  } catch (err) {
    emit({ type: "error", message: `shutdown: ${messageOf(err)}` });
  }
  clearTimeout(timer);
  process.exit(code);
}

/** CPU time this process has used so far, in microseconds. */
export function cpuSnapshot(): { type: "cpu"; userUs: number; systemUs: number } {
  const usage = process.cpuUsage();
  return { type: "cpu", userUs: usage.user, systemUs: usage.system };
}

/** A one-line description of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
