/**
 * Generates `docs/reference/cli.md` from the commander program itself, so the reference cannot
 * drift from the CLI. `npm run generate` calls {@link renderCliReference}; run directly, this file
 * writes the page (`node packages/cli/src/render-reference.ts`) or checks it (`--check`, exit 1 when stale).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Argument, Command, Option } from "commander";
import type { CliIo } from "./context.ts";
import { exitCodes } from "./main.ts";
import { buildProgram, commandExamples } from "./program.ts";

/** Where the reference lives, relative to the repository root. */
export const cliReferencePath = join("docs", "reference", "cli.md");

const inertIo: CliIo = {
  stdout: () => undefined,
  stderr: () => undefined,
  env: {},
  cwd: "/",
  stderrIsTty: false,
  waitForShutdownSignal: () => new Promise<string>(() => undefined),
  loadHost: () => Promise.reject(new Error("the reference generator never runs commands")),
  readSecret: () => Promise.reject(new Error("the reference generator never runs commands")),
  openBrowser: () => Promise.reject(new Error("the reference generator never runs commands")),
};

/** The Markdown reference of every `aesp` command, with options and examples. */
export function renderCliReference(): string {
  const { program } = buildProgram(inertIo);
  const out: string[] = [
    "# `aesp` command reference",
    "",
    "<!-- Generated from the CLI's command definitions by packages/cli/src/render-reference.ts (npm run generate). Do not edit by hand. -->",
    "",
    prose(program.description()),
    "",
    "## Global options",
    "",
    "These go before or after the command (`aesp --json tenant list` or `aesp tenant list --json`).",
    "",
    ...optionTable(program.options.filter((option) => !option.hidden)),
    "",
    "## Settings and profiles",
    "",
    "Connection settings are resolved in this order: flags, then environment (`AESP_HOST`, `AESP_CA`, `AESP_PROFILE`),",
    "then the selected profile in `$AESP_HOME/profiles.json` (default `~/.aesp/profiles.json`, mode 0600), then defaults",
    "(`https://127.0.0.1:7443`, and `./.aesp/ca.pem` when it exists). `AESP_API_KEY` overrides the profile's API key.",
    "`aesp login` and `aesp service-account create --save-profile` write profiles; API keys are never printed after creation.",
    "",
    "## Output, errors and exit codes",
    "",
    "Lists print as aligned tables; `--json` prints JSON (proto field names, snake_case) for scripts. Errors are printed on",
    "stderr as `error CODE: message`, followed by the correlation id and *what to do next*; set `AESP_DEBUG=1` to add the stack.",
    "",
    "| exit code | meaning |",
    "|---|---|",
    `| ${exitCodes.ok} | success |`,
    `| ${exitCodes.failure} | the Host refused or failed, a tool returned an error, or \`audit verify\` found tampering |`,
    `| ${exitCodes.usage} | invalid command line (unknown option, missing argument) |`,
    "",
    "## Commands",
    "",
  ];
  for (const command of leafCommands(program)) out.push(...renderCommand(command));
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

/** Commands that run something (groups like `aesp tenant` only hold subcommands). */
function leafCommands(command: Command): Command[] {
  const result: Command[] = [];
  for (const sub of command.commands) {
    if (sub.name() === "help") continue;
    if (sub.commands.length > 0) result.push(...leafCommands(sub));
    else result.push(sub);
  }
  return result;
}

function fullName(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current !== null; current = current.parent) names.unshift(current.name());
  return names.join(" ");
}

function renderCommand(command: Command): string[] {
  const name = fullName(command);
  const lines = [`### \`${name}\``, "", prose(command.description()), "", "```sh", `${name} ${command.usage()}`.trimEnd(), "```", ""];
  const args = command.registeredArguments;
  if (args.length > 0) lines.push(...argumentTable(args), "");
  const options = command.options.filter((option) => !option.hidden);
  if (options.length > 0) lines.push(...optionTable(options), "");
  const examples = commandExamples.get(command) ?? [];
  if (examples.length > 0) lines.push("Examples:", "", "```sh", ...examples, "```", "");
  return lines;
}

function argumentTable(args: readonly Argument[]): string[] {
  return [
    "| argument | required | description |",
    "|---|---|---|",
    ...args.map((arg) => `| \`${arg.name()}${arg.variadic ? "..." : ""}\` | ${arg.required ? "yes" : "no"} | ${cell(arg.description)} |`),
  ];
}

function optionTable(options: readonly Option[]): string[] {
  return [
    "| option | description |",
    "|---|---|",
    ...options.map((option) => {
      const notes: string[] = [];
      if (option.mandatory) notes.push("required");
      if (option.argChoices !== undefined) notes.push(`one of: ${option.argChoices.map((choice) => `\`${choice}\``).join(", ")}`);
      if (option.defaultValue !== undefined && option.defaultValue !== "" && typeof option.defaultValue !== "boolean") {
        notes.push(`default: \`${JSON.stringify(option.defaultValue)}\``);
      }
      const suffix = notes.length > 0 ? ` (${notes.join("; ")})` : "";
      return `| \`${option.flags}\` | ${cell(option.description)}${suffix} |`;
    }),
  ];
}

/** Escapes text for a Markdown table cell (angle brackets would otherwise read as HTML tags). */
function cell(text: string): string {
  return prose(text).replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function prose(text: string): string {
  return text.replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

if (import.meta.main) {
  const root = join(import.meta.dirname, "..", "..", "..");
  const target = join(root, cliReferencePath);
  const rendered = renderCliReference();
  if (process.argv.includes("--check")) {
    const current = await readFile(target, "utf8").catch(() => "");
    if (current !== rendered) {
      process.stderr.write(`${cliReferencePath} is stale: run node packages/cli/src/render-reference.ts\n`);
      process.exitCode = 1;
    }
  } else {
    await writeFile(target, rendered);
    process.stdout.write(`wrote ${cliReferencePath}\n`);
  }
}
