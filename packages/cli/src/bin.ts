#!/usr/bin/env node
/**
 * The `aesp` executable. The Node version is checked before anything else is loaded, so that an
 * old Node fails with a clear message rather than a syntax or module error.
 */
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`aesp needs Node.js 22.12 or newer; this is Node ${process.versions.node}.\nInstall Node 24 LTS (https://nodejs.org) and run the command again.\n`);
  process.exit(1);
}

const { runCli } = await import("./main.ts");
const { processIo } = await import("./process-io.ts");
const code = await runCli(process.argv.slice(2), processIo());
process.exitCode = code;
// Let pending output flush; a connection left open by a failure must not keep the CLI alive.
setTimeout(() => process.exit(code), 3_000).unref();
