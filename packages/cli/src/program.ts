/**
 * The `aesp` command tree. Built by a function (not at import time) so that tests and the
 * reference generator get a fresh program wired to their own I/O.
 */
import { Command, InvalidArgumentError } from "commander";
import { registerApprovalCommands } from "./commands/approvals.ts";
import { registerAuditCommands } from "./commands/audit.ts";
import { registerBreakGlassCommands } from "./commands/break-glass.ts";
import { registerContractCommands } from "./commands/contracts.ts";
import { registerHostCommands } from "./commands/host.ts";
import { registerInvocationCommands } from "./commands/invocation.ts";
import { registerLoginCommands } from "./commands/login.ts";
import { registerPolicyCommands } from "./commands/policies.ts";
import { registerPrincipalCommands } from "./commands/principals.ts";
import { registerRoleCommands } from "./commands/roles.ts";
import { registerRuntimeCommands } from "./commands/runtimes.ts";
import { registerServiceAccountCommands } from "./commands/service-accounts.ts";
import { registerTenantCommands } from "./commands/tenants.ts";
import { CliContext, defaultHostUrl } from "./context.ts";
import type { CliIo, GlobalOptions } from "./context.ts";

/** Version printed by `aesp --version`. */
export const cliVersion = "0.1.0";

/** What command modules get to define their commands. */
export interface CommandKit {
  readonly io: CliIo;
  /** Wraps a command body: builds its context from the global options and closes it afterwards. */
  action<Args extends unknown[]>(body: (ctx: CliContext, ...args: Args) => Promise<void>): (...args: unknown[]) => Promise<void>;
  /** Sets the exit code for an outcome that is not an error (e.g. a tool's own failure). */
  setExitCode(code: number): void;
  /** Attaches usage examples, shown in `--help` and in docs/reference/cli.md. */
  example(command: Command, ...lines: string[]): Command;
}

/** Usage examples per command, for the reference generator. */
export const commandExamples = new WeakMap<Command, readonly string[]>();

/** The result of building the program: the tree and the exit code its actions set. */
export interface BuiltProgram {
  readonly program: Command;
  /** The exit code requested by an action that did not throw (0 unless set). */
  exitCode(): number;
}

/** Collects a repeatable option; comma-separated values count as several. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((part) => part.trim()).filter((part) => part !== "")];
}

/** Parses a positive integer option. */
export function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive integer.`);
    }
    return parsed;
  };
}

/** Builds the `aesp` program around `io`. */
export function buildProgram(io: CliIo): BuiltProgram {
  let exitCode = 0;
  const program = new Command("aesp")
    .description("Run and govern an AESP Host: tenants, contracts, approvals, runtimes, sessions, tool calls and audit.")
    // No commander .version(): program options are matched anywhere on the line, and `--version`
    // must stay free for `aesp invoke --version`. runCli answers a lone `--version` itself.
    .addHelpText("after", "\nPrint the CLI version with: aesp --version")
    // Environment fallbacks (AESP_HOST, AESP_CA, AESP_PROFILE, AESP_API_KEY) are resolved by CliContext
    // from the injected I/O, not by commander, which would read the real process environment.
    .option("--host <url>", `gateway URL (env AESP_HOST; default: the profile's, else ${defaultHostUrl})`)
    .option("--ca <file>", "CA certificate (PEM) to trust for the gateway (env AESP_CA; default: the profile's, else ./.aesp/ca.pem)")
    .option("--json", "print JSON for scripts instead of tables")
    .option("--profile <name>", "profile in $AESP_HOME/profiles.json (env AESP_PROFILE; default: the current profile)")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
    .exitOverride();

  const kit: CommandKit = {
    io,
    action:
      <Args extends unknown[]>(body: (ctx: CliContext, ...args: Args) => Promise<void>) =>
      async (...args: unknown[]) => {
        const command = args[args.length - 1] as Command;
        const ctx = new CliContext(io, command.optsWithGlobals<GlobalOptions>());
        try {
          await body(ctx, ...(args.slice(0, -1) as Args));
        } finally {
          ctx.close();
        }
      },
    setExitCode: (code) => {
      exitCode = code;
    },
    example: (command, ...lines) => {
      commandExamples.set(command, [...(commandExamples.get(command) ?? []), ...lines]);
      command.addHelpText("after", `\nExamples:\n${lines.map((line) => `  $ ${line}`).join("\n")}\n`);
      return command;
    },
  };

  registerHostCommands(program, kit);
  registerLoginCommands(program, kit);
  registerTenantCommands(program, kit);
  registerServiceAccountCommands(program, kit);
  registerPrincipalCommands(program, kit);
  registerRoleCommands(program, kit);
  registerContractCommands(program, kit);
  registerApprovalCommands(program, kit);
  registerPolicyCommands(program, kit);
  registerRuntimeCommands(program, kit);
  registerInvocationCommands(program, kit);
  registerAuditCommands(program, kit);
  registerBreakGlassCommands(program, kit);

  // Every subcommand reports through our I/O and throws instead of exiting.
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub.configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) }).exitOverride();
      sub.showHelpAfterError("(run with --help for usage)");
      configure(sub);
    }
  };
  configure(program);
  return { program, exitCode: () => exitCode };
}
