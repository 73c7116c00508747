#!/usr/bin/env node
/**
 * An example tool runtime built with @aesp/runtime. It fulfils two contracts that only the Host
 * defines (examples/contracts/): `text_stats@1.0.0` (unary) and `count_to@1.0.0` (streaming).
 *
 *   node examples/text-tools-runtime.ts --enrollment ./text-tools
 *
 * `--enrollment` is the directory written by `aesp runtime enroll --out`. The runtime connects to
 * the Host's runtime plane over mutual TLS 1.3, reconnects with backoff if the connection drops,
 * and drains (finishing in-flight calls) on SIGINT/SIGTERM. See examples/README.md.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createRuntime, readEnrollment, ToolError } from "@aesp/runtime";
import type { ToolHandler } from "@aesp/runtime";

/** Word, character (code point) and line counts of a text. */
export function textStats(text: string): { words: number; characters: number; lines: number } {
  return {
    words: text.split(/\s+/u).filter((word) => word !== "").length,
    characters: [...text].length,
    lines: text === "" ? 0 : text.split(/\r\n|\r|\n/u).length,
  };
}

/** The handlers, keyed by the contracts they fulfil. Arguments arrive already validated by the Host. */
export const handlers: Record<string, ToolHandler> = {
  "text_stats@1.0.0": (args) => {
    const text = args["text"];
    // The Host validated the arguments; this only guards against a contract changed without this runtime.
    if (typeof text !== "string") throw new ToolError("INVALID_TEXT", "text must be a string.");
    return textStats(text);
  },

  "count_to@1.0.0": async (args, ctx) => {
    const n = Number(args["n"]);
    const delayMs = Number(args["delay_ms"] ?? 0);
    for (let i = 1; i <= n; i++) {
      if (ctx.signal.aborted) return;
      await ctx.emit({ i });
      if (delayMs > 0 && i < n) await sleep(delayMs, undefined, { signal: ctx.signal }).catch(() => undefined);
    }
  },
};

const log = (message: string): void => {
  process.stderr.write(`${new Date().toISOString()} text-tools: ${message}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      enrollment: { type: "string" },
      "max-concurrency": { type: "string", default: "256" },
      "drain-grace-ms": { type: "string", default: "10000" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true || values.enrollment === undefined) {
    process.stderr.write("usage: node examples/text-tools-runtime.ts --enrollment <dir written by aesp runtime enroll> [--max-concurrency 256] [--drain-grace-ms 10000]\n");
    process.exitCode = values.help === true ? 0 : 2;
    return;
  }
  const enrollment = await readEnrollment(values.enrollment);
  const runtime = createRuntime({
    ...enrollment,
    handlers,
    maxConcurrency: Number(values["max-concurrency"]),
    reconnect: true,
    metadata: { example: "text-tools" },
  });

  runtime.on("connected", (acceptance) => {
    log(`connected to ${enrollment.runtimePlaneUrl} as ${runtime.identity.spiffeId}; serving ${acceptance.acceptedContracts.join(", ") || "nothing yet"}`);
    if (acceptance.notAccepted.length > 0) {
      log(`not accepted by the Host (not ACTIVE, or not allowed for this runtime): ${acceptance.notAccepted.join(", ")}`);
    }
  });
  runtime.on("disconnect", (info) => log(`disconnected (${info.reason}${info.error === undefined ? "" : `: ${info.error.code} ${info.error.message}`})${info.willReconnect ? ", reconnecting" : ""}`));
  runtime.on("reconnecting", (info) => log(`reconnecting in ${info.delayMs} ms (attempt ${info.attempt})`));
  runtime.on("handlerError", (info) => log(`handler for ${info.contract} failed (${info.invocationId}): ${info.error instanceof Error ? info.error.message : String(info.error)}`));

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log("second signal: closing now");
      void runtime.close();
      return;
    }
    stopping = true;
    log(`${signal}: draining (up to ${values["drain-grace-ms"]} ms for in-flight calls)`);
    void runtime.drain(Number(values["drain-grace-ms"])).then(() => log("drained; bye"));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  if (enrollment.notAfter.getTime() - Date.now() < 3_600_000) {
    log(`warning: the certificate expires at ${enrollment.notAfter.toISOString()}; renew it with: aesp runtime renew --dir ${values.enrollment}`);
  }
  await runtime.start();
  await runtime.closed;
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    const error = err as { code?: string; message?: string; remediation?: readonly string[] };
    log(`error ${error.code ?? "INTERNAL_ERROR"}: ${error.message ?? String(err)}`);
    for (const step of error.remediation ?? []) log(`  - ${step}`);
    process.exitCode = 1;
  });
}
