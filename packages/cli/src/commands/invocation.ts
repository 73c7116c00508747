import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Command } from "commander";
import type { AespClient, InvokeResult } from "@aesp/client";
import type { CliContext } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields } from "../table.ts";

interface InvokeOptions {
  args: string;
  session?: string;
  version?: string;
  timeout?: number;
  stream?: boolean;
}

/**
 * Reads `--args`: inline JSON, or `@path` for a JSON file.
 * @throws AespError INVALID_ARGUMENT when it is not a JSON object.
 */
export async function parseArgs(raw: string, cwd: string): Promise<JsonObject> {
  let text = raw;
  if (raw.startsWith("@")) {
    const path = resolve(cwd, raw.slice(1));
    try {
      text = await readFile(path, "utf8");
    } catch {
      throw usageError(`Cannot read the arguments file ${path}.`, ["Check the path after @."]);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw usageError(`--args is not valid JSON: ${(err as Error).message}`, [`Quote the JSON for your shell, e.g. --args '{"text": "hello"}'.`, "Or put it in a file and pass --args @args.json."]);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw usageError("--args must be a JSON object.", [`e.g. --args '{"text": "hello"}'`]);
  return parsed as JsonObject;
}

/** Splits `name@version`; an explicit --version must agree. */
export function parseContractRef(ref: string, version: string | undefined): { name: string; version: string | undefined } {
  const at = ref.indexOf("@");
  if (at === -1) return { name: ref, version };
  const name = ref.slice(0, at);
  const pinned = ref.slice(at + 1);
  if (version !== undefined && version !== pinned) throw usageError(`${ref} names version ${pinned} but --version says ${version}.`, ["Give the version once."]);
  return { name, version: pinned };
}

function resultJson(result: InvokeResult): Record<string, unknown> {
  return {
    status: result.status,
    ...(result.status === "SUCCESS" ? { content: result.content } : { error: result.error }),
    invocation_id: result.invocationId,
    correlation_id: result.correlationId,
    call_id: result.callId,
  };
}

/** `aesp session create|destroy` and `aesp invoke`. */
export function registerInvocationCommands(program: Command, kit: CommandKit): void {
  const session = program.command("session").description("Open and close sessions (every tool call belongs to one).");

  const create = session
    .command("create")
    .description("Open a session bound to your tenant and principal; prints its id.")
    .option("--ttl <seconds>", "lifetime (capped by the Host)", positiveInteger("--ttl"))
    .action(
      kit.action(async (ctx, options: { ttl?: number }) => {
        const client = await ctx.client();
        const opened = await client.createSession(options.ttl === undefined ? {} : { ttlSeconds: options.ttl });
        ctx.result({ session_id: opened.sessionId, tenant_id: opened.tenantId, principal_id: opened.principalId, expires_at: opened.expiresAt.toISOString() }, () =>
          formatFields([
            ["session", opened.sessionId],
            ["tenant", opened.tenantId],
            ["principal", opened.principalId],
            ["expires", opened.expiresAt.toISOString()],
          ]),
        );
      }),
    );
  kit.example(create, "aesp session create --ttl 600");

  const destroy = session
    .command("destroy")
    .description("End a session; with --force, its in-flight calls are cancelled instead of refusing.")
    .argument("<session-id>", "the session")
    .option("--force", "cancel in-flight calls")
    .action(
      kit.action(async (ctx, sessionId: string, options: { force?: boolean }) => {
        const client = await ctx.client();
        const outcome = await client.destroySession(sessionId, { force: options.force === true });
        ctx.result({ session_id: sessionId, destroyed: outcome.destroyed, aborted_invocations: outcome.abortedInvocations }, () =>
          outcome.destroyed ? `Destroyed ${sessionId}${outcome.abortedInvocations > 0 ? ` (${outcome.abortedInvocations} call(s) cancelled)` : ""}.` : `${sessionId} was not destroyed.`,
        );
      }),
    );
  kit.example(destroy, "aesp session destroy ses_01J9ZK... --force");

  const invoke = program
    .command("invoke")
    .description("Call a tool through the full governance pipeline and print its result (a temporary session is used unless --session is given).")
    .argument("<contract>", "contract name, or name@version")
    .option("--args <json>", "arguments as a JSON object, or @file.json", "{}")
    .option("--session <id>", "an existing session (default: create one and destroy it afterwards)")
    .option("--version <version>", "exact contract version (default: the newest ACTIVE one)")
    .option("--timeout <ms>", "deadline for the call (capped by the Host)", positiveInteger("--timeout"))
    .option("--stream", "stream the result: print each chunk as it arrives (JSON lines)")
    .action(
      kit.action(async (ctx, contract: string, options: InvokeOptions) => {
        const { name, version } = parseContractRef(contract, options.version);
        const args = await parseArgs(options.args, ctx.io.cwd);
        const client = await ctx.client();
        const sessionId = options.session ?? (await client.createSession({ metadata: { source: "aesp-cli" } })).sessionId;
        const invokeOptions = { ...(version === undefined ? {} : { contractVersion: version }), ...(options.timeout === undefined ? {} : { timeoutMs: options.timeout }) };
        try {
          const result = options.stream === true ? await streamCall(ctx, client, sessionId, name, args, invokeOptions) : await client.invoke(sessionId, name, args, invokeOptions);
          if (options.stream !== true) {
            if (ctx.json) ctx.out(JSON.stringify(resultJson(result), null, 2));
            else if (result.status === "SUCCESS") ctx.out(JSON.stringify(result.content, null, 2));
          }
          if (result.status === "ERROR") {
            if (!ctx.json) ctx.note(`tool error ${result.error.type}: ${result.error.message}\ninvocation id: ${result.invocationId}\ncorrelation id: ${result.correlationId}`);
            kit.setExitCode(1);
          }
        } finally {
          if (options.session === undefined) {
            await client.destroySession(sessionId, { force: true }).catch((err: unknown) => {
              ctx.note(`warning: could not destroy the temporary session ${sessionId}: ${(err as Error).message}`);
            });
          }
        }
      }),
    );
  kit.example(invoke, `aesp invoke text_stats --args '{"text": "hello governed world"}'`, `aesp invoke count_to@1.0.0 --args '{"n": 5, "delay_ms": 200}' --stream`, "aesp invoke text_stats --args @args.json --session ses_01J9ZK... --json");
}

async function streamCall(
  ctx: CliContext,
  client: AespClient,
  sessionId: string,
  name: string,
  args: JsonObject,
  options: { contractVersion?: string; timeoutMs?: number },
): Promise<InvokeResult> {
  for await (const event of client.invokeStream(sessionId, name, args, options)) {
    if (event.kind === "chunk") {
      ctx.out(ctx.json ? JSON.stringify({ chunk: { sequence: event.sequence, payload: event.payload } }) : JSON.stringify(event.payload));
      continue;
    }
    const { kind: _kind, ...result } = event;
    if (ctx.json) ctx.out(JSON.stringify({ result: resultJson(result) }));
    return result;
  }
  throw usageError("The stream ended without a result.");
}
