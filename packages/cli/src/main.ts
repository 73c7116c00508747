/**
 * Runs one `aesp` invocation against the given I/O and returns its exit code:
 * 0 success, 1 failure (an error, a tool's own error, a failed audit verification), 2 usage error.
 */
import { CommanderError } from "commander";
import type { CliIo } from "./context.ts";
import { buildProgram, cliVersion } from "./program.ts";
import { renderError, renderErrorJson } from "./render-error.ts";

/** Exit codes of the CLI. */
export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Parses `argv` (without `node` and the script), runs the command and renders any error.
 * Never throws.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    io.stdout(`${cliVersion}\n`);
    return exitCodes.ok;
  }
  const built = buildProgram(io);
  try {
    await built.program.parseAsync([...argv], { from: "user" });
    return built.exitCode();
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already written the usage message (or the help / version text).
      return err.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    const json = argv.includes("--json");
    io.stderr(json ? renderErrorJson(err) : renderError(err, { debug: io.env["AESP_DEBUG"] === "1" }));
    return exitCodes.failure;
  }
}
