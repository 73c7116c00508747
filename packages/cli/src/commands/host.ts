import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidArgumentError, Option } from "commander";
import type { Command } from "commander";
import type { CommandKit } from "../program.ts";

interface StartOptions {
  config?: string;
  dataDir?: string;
  storage?: "sqlite" | "postgres";
  postgresUrl?: string;
  gatewayPort?: number;
  runtimePort?: number;
  quiet?: boolean;
}

/** Parses a TCP port (0 picks a free one). */
export function port(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed > 65_535) throw new InvalidArgumentError("a port is an integer from 0 to 65535.");
  return parsed;
}

/** `aesp start`. */
export function registerHostCommands(program: Command, kit: CommandKit): void {
  const start = program
    .command("start")
    .description("Start the Host in this process (API gateway and runtime plane); stops gracefully on SIGINT/SIGTERM.")
    .option("--config <file>", "configuration file (YAML or JSON; environment AESP_* and these flags override it)")
    .option("--data-dir <dir>", "data directory: embedded database, keys, ca.pem (default .aesp)")
    .addOption(new Option("--storage <kind>", "storage backend").choices(["sqlite", "postgres"]))
    .option("--postgres-url <url>", "PostgreSQL connection string when --storage postgres")
    .option("--gateway-port <port>", "API gateway port (default 7443)", port)
    .option("--runtime-port <port>", "runtime plane port (default 7444)", port)
    .option("--quiet", "do not print the Host's logs")
    .action(
      kit.action(async (ctx, options: StartOptions) => {
        const flags: Record<string, unknown> = {};
        if (options.dataDir !== undefined) flags["data_dir"] = resolve(ctx.io.cwd, options.dataDir);
        if (options.storage !== undefined) flags["storage.kind"] = options.storage;
        if (options.postgresUrl !== undefined) flags["storage.postgres_url"] = options.postgresUrl;
        if (options.gatewayPort !== undefined) flags["gateway.port"] = options.gatewayPort;
        if (options.runtimePort !== undefined) flags["runtime_plane.port"] = options.runtimePort;

        const hostModule = await ctx.io.loadHost();
        const host = await hostModule.startHost({
          ...(options.config === undefined ? {} : { configFile: resolve(ctx.io.cwd, options.config) }),
          flags,
          env: { ...ctx.io.env },
          logDestination: options.quiet === true || ctx.json ? "silent" : "stdout",
        });
        let caPath: string;
        try {
          caPath = await writeCaCertificate(host.dataDir, host.caCertificatePem);
        } catch (err) {
          await host.close();
          throw err;
        }

        ctx.result(
          {
            gateway_url: host.gatewayUrl,
            runtime_plane_url: host.runtimePlaneUrl,
            data_dir: host.dataDir,
            ca_certificate_path: caPath,
            bootstrap_token: host.bootstrapToken,
          },
          () => startBanner({ ...host, caPath }),
        );

        const signal = await ctx.io.waitForShutdownSignal();
        ctx.note(`Received ${signal}: stopping the Host (in-flight calls finish, runtimes are drained)...`);
        await host.close();
        ctx.note("The Host stopped.");
      }),
    );
  kit.example(start, "aesp start", "aesp start --data-dir /var/lib/aesp --storage postgres --postgres-url postgres://postgres@127.0.0.1/aesp");
}

/** Writes `<dataDir>/ca.pem` unless it already holds this certificate; returns its path. */
async function writeCaCertificate(dataDir: string, pem: string): Promise<string> {
  const path = join(dataDir, "ca.pem");
  const existing = await readFile(path, "utf8").catch(() => null);
  if (existing !== pem) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(path, pem, { mode: 0o644 });
  }
  return path;
}

function startBanner(host: { gatewayUrl: string; runtimePlaneUrl: string; dataDir: string; caPath: string; bootstrapToken: string | null }): string {
  const lines = [
    "AESP Host is running.",
    `  API gateway:     ${host.gatewayUrl}`,
    `  runtime plane:   ${host.runtimePlaneUrl}`,
    `  data directory:  ${host.dataDir}`,
    `  CA certificate:  ${host.caPath}`,
  ];
  if (host.bootstrapToken !== null) {
    lines.push(
      "",
      "First start: redeem this one-time bootstrap token to create the first platform administrator.",
      "It is shown only now and works once:",
      "",
      `  ${host.bootstrapToken}`,
      "",
      "In another terminal:",
      `  aesp login --bootstrap-token ${host.bootstrapToken} --host ${host.gatewayUrl} --ca ${host.caPath}`,
    );
  }
  lines.push("", "Press Ctrl+C to stop.");
  return lines.join("\n");
}
