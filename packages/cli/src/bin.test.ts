// The executable as a user runs it: a child Node process.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const bin = join(import.meta.dirname, "bin.ts");
const run = promisify(execFile);

async function aesp(args: string[], preload?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const nodeArgs = preload === undefined ? [bin, ...args] : ["--import", `data:text/javascript,${encodeURIComponent(preload)}`, bin, ...args];
  try {
    const { stdout, stderr } = await run(process.execPath, nodeArgs, { env: { ...process.env, AESP_HOME: "/nonexistent-aesp-home" }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test("refuses Node older than 22.12 with a clear message, before loading anything", async () => {
  const result = await aesp(["--help"], 'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "22.11.0" } });');
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /aesp needs Node\.js 22\.12 or newer; this is Node 22\.11\.0\./);
});

test("prints help and exits 0; an error exits 1 without a stack", async () => {
  const help = await aesp(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: aesp/);
  const failure = await aesp(["--host", "https://127.0.0.1:1", "--ca", "/nonexistent/ca.pem", "session", "create"], undefined);
  assert.equal(failure.code, 1);
  assert.match(failure.stderr, /^error AUTHENTICATION_FAILED/);
  assert.doesNotMatch(failure.stderr, /\n\s+at /);
});
