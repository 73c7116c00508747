import { generateKeyPairSync } from "node:crypto";
import { access, mkdir, open, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { AespError } from "@aesp/client";
import { RuntimeInfoSchema } from "@aesp/proto/runtime_admin";
import type { RuntimeInfo } from "@aesp/proto/runtime_admin";
import { formatTime } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { collect, positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields } from "../table.ts";
import type { Column } from "../table.ts";

/** File names inside an enrollment directory (read by @aesp/runtime's readEnrollment). */
export const enrollmentFiles = { key: "runtime.key", certificate: "runtime.crt", ca: "ca.pem", manifest: "runtime.json" } as const;

/** The default runtime plane port, used to derive its URL from the gateway's. */
const defaultRuntimePlanePort = "7444";

/** Contents of `runtime.json`. */
export interface EnrollmentManifest {
  runtime_id: string;
  tenant_id: string;
  runtime_plane_url: string;
  spiffe_id: string;
  serial_number: string;
  not_after: string;
}

const runtimeColumns: readonly Column<RuntimeInfo>[] = [
  { header: "RUNTIME", value: (runtime) => runtime.runtimeId },
  { header: "CONNECTED", value: (runtime) => (runtime.connected ? "yes" : "no") },
  { header: "HEALTHY", value: (runtime) => (runtime.connected ? (runtime.healthy ? "yes" : "no") : "") },
  { header: "IN FLIGHT", value: (runtime) => runtime.inFlight, align: "right" },
  { header: "CONTRACTS", value: (runtime) => (runtime.connected ? runtime.acceptedContracts : runtime.allowedContracts).join(","), maxWidth: 50 },
  { header: "LANGUAGE", value: (runtime) => (runtime.language === "" ? "" : `${runtime.language} ${runtime.version}`.trim()) },
  { header: "LAST HEARTBEAT", value: (runtime) => formatTime(runtime.lastHeartbeatUnixMs) },
  { header: "CERTIFICATES", value: (runtime) => runtime.certificates.filter((cert) => cert.revokedAtUnixMs === 0n).map((cert) => cert.serialNumber).join(","), maxWidth: 40 },
];

/** The runtime plane URL on the gateway's host with the default runtime port. */
export function deriveRuntimePlaneUrl(gatewayUrl: string): string {
  const url = new URL(gatewayUrl);
  url.port = defaultRuntimePlanePort;
  url.protocol = "https:";
  return url.href.replace(/\/$/, "");
}

/** Tenant and runtime named by a runtime SPIFFE id. */
export function parseRuntimeSpiffeId(spiffeId: string): { tenantId: string; runtimeId: string } {
  const match = /^spiffe:\/\/[^/]+\/tenant\/([^/]+)\/runtime\/([^/]+)$/.exec(spiffeId);
  if (match === null) {
    throw new AespError({ code: "CERTIFICATE_INVALID", message: `Unexpected SPIFFE id in the issued certificate: ${spiffeId}`, remediation: ["Report this to the Host's administrator."] });
  }
  return { tenantId: match[1] as string, runtimeId: match[2] as string };
}

/** A fresh EC P-256 key pair; the private key never leaves this machine. */
function newKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const pair = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/** Writes a file with `mode` from its creation, atomically (temporary file + rename). */
async function writePrivate(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, "w", mode);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Writes the enrollment directory: key (0600), certificate, CA chain and manifest. */
async function writeEnrollment(dir: string, files: { privateKeyPem: string; certificatePem: string; caCertificatesPem: readonly string[]; manifest: EnrollmentManifest }): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writePrivate(join(dir, enrollmentFiles.key), files.privateKeyPem, 0o600);
  await writeFile(join(dir, enrollmentFiles.certificate), files.certificatePem, { mode: 0o644 });
  await writeFile(join(dir, enrollmentFiles.ca), files.caCertificatesPem.map((pem) => (pem.endsWith("\n") ? pem : `${pem}\n`)).join(""), { mode: 0o644 });
  await writeFile(join(dir, enrollmentFiles.manifest), JSON.stringify(files.manifest, null, 2) + "\n", { mode: 0o644 });
}

/** `aesp runtime token create|enroll|renew|list|revoke`. */
export function registerRuntimeCommands(program: Command, kit: CommandKit): void {
  const runtime = program.command("runtime").description("Register runtimes, enroll them (mTLS certificates), list and revoke them.");

  const token = runtime.command("token").description("Join tokens for enrolling runtimes.");
  const tokenCreate = token
    .command("create")
    .description("Register a runtime and print a one-time join token for it (shown once).")
    .requiredOption("--runtime-id <id>", "runtime id: lowercase letters, digits, '.', '_' and '-'")
    .option("--contract <name>", "contract name the runtime may fulfil (repeatable, or '*')", collect)
    .option("--ttl <seconds>", "token lifetime (default: the Host's)", positiveInteger("--ttl"))
    .action(
      kit.action(async (ctx, options: { runtimeId: string; contract?: string[]; ttl?: number }) => {
        if (options.contract === undefined || options.contract.length === 0) throw usageError("Name at least one contract with --contract (or --contract '*').");
        const client = await ctx.client();
        const response = await client.services.runtimeAdmin.createJoinToken({ runtimeId: options.runtimeId, allowedContracts: options.contract, ttlSeconds: options.ttl ?? 0 });
        const settings = await ctx.settings();
        ctx.result(
          { join_token: response.joinToken, token_id: response.tokenId, expires_at_unix_ms: Number(response.expiresAtUnixMs) },
          () =>
            formatFields([
              ["runtime", options.runtimeId],
              ["join token", response.joinToken],
              ["expires", formatTime(response.expiresAtUnixMs)],
            ]) +
            [
              "\nThe token is shown only now and works once. On the runtime's machine:",
              `  aesp runtime enroll --token ${response.joinToken} --runtime-id ${options.runtimeId} --out ./${options.runtimeId} --host ${settings.host}${settings.caPath === undefined ? "" : ` --ca ${settings.caPath}`}`,
            ].join("\n"),
        );
      }),
    );
  kit.example(tokenCreate, "aesp runtime token create --runtime-id text-tools --contract text_stats --contract count_to");

  const enroll = runtime
    .command("enroll")
    .description("Enroll this machine as a runtime: generate a key pair locally, send only the public key, write the certificate and settings to --out.")
    .requiredOption("--token <join token>", "from aesp runtime token create")
    .requiredOption("--runtime-id <id>", "the runtime id the token was created for")
    .requiredOption("--out <dir>", "directory for runtime.key (0600), runtime.crt, ca.pem and runtime.json")
    .option("--runtime-plane <url>", "the Host's runtime plane URL (default: the gateway's host, port 7444)")
    .option("--force", "overwrite an existing enrollment in --out")
    .action(
      kit.action(async (ctx, options: { token: string; runtimeId: string; out: string; runtimePlane?: string; force?: boolean }) => {
        const dir = resolve(ctx.io.cwd, options.out);
        if (options.force !== true && (await exists(join(dir, enrollmentFiles.key)))) {
          throw usageError(`${join(dir, enrollmentFiles.key)} already exists.`, ["Use another --out directory, or --force to replace that enrollment."]);
        }
        const settings = await ctx.settings();
        const runtimePlaneUrl = options.runtimePlane ?? deriveRuntimePlaneUrl(settings.host);
        const keys = newKeyPair();
        const client = await ctx.client({ authenticated: false });
        const issued = await client.services.runtimeAdmin.enrollRuntime({ joinToken: options.token, publicKeyPem: keys.publicKeyPem, runtimeId: options.runtimeId });
        const identity = parseRuntimeSpiffeId(issued.spiffeId);
        const manifest: EnrollmentManifest = {
          runtime_id: identity.runtimeId,
          tenant_id: identity.tenantId,
          runtime_plane_url: runtimePlaneUrl,
          spiffe_id: issued.spiffeId,
          serial_number: issued.serialNumber,
          not_after: new Date(Number(issued.notAfterUnixMs)).toISOString(),
        };
        await writeEnrollment(dir, { privateKeyPem: keys.privateKeyPem, certificatePem: issued.certificatePem, caCertificatesPem: issued.caCertificatesPem, manifest });
        ctx.result({ ...manifest, directory: dir }, () =>
          formatFields([
            ["runtime", manifest.runtime_id],
            ["tenant", manifest.tenant_id],
            ["spiffe id", manifest.spiffe_id],
            ["certificate", `${manifest.serial_number}, valid until ${manifest.not_after}`],
            ["runtime plane", manifest.runtime_plane_url],
            ["written to", dir],
          ]) + "\nThe private key was generated here and never left this machine. Renew before expiry with: aesp runtime renew --dir " + options.out,
        );
      }),
    );
  kit.example(enroll, "aesp runtime enroll --token aesp-join-7Hq... --runtime-id text-tools --out ./text-tools");

  const renew = runtime
    .command("renew")
    .description("Renew an enrollment's certificate with a new locally generated key (tenant administrator credentials).")
    .requiredOption("--dir <dir>", "an enrollment directory written by aesp runtime enroll")
    .action(
      kit.action(async (ctx, options: { dir: string }) => {
        const dir = resolve(ctx.io.cwd, options.dir);
        let manifest: EnrollmentManifest;
        try {
          manifest = JSON.parse(await readFile(join(dir, enrollmentFiles.manifest), "utf8")) as EnrollmentManifest;
        } catch {
          throw usageError(`${join(dir, enrollmentFiles.manifest)} is missing or not JSON.`, ["Point --dir at a directory written by aesp runtime enroll."]);
        }
        const keys = newKeyPair();
        const client = await ctx.client();
        const issued = await client.services.runtimeAdmin.renewCertificate({ runtimeId: manifest.runtime_id, publicKeyPem: keys.publicKeyPem });
        const renewed: EnrollmentManifest = { ...manifest, spiffe_id: issued.spiffeId, serial_number: issued.serialNumber, not_after: new Date(Number(issued.notAfterUnixMs)).toISOString() };
        await writeEnrollment(dir, { privateKeyPem: keys.privateKeyPem, certificatePem: issued.certificatePem, caCertificatesPem: issued.caCertificatesPem, manifest: renewed });
        ctx.result({ ...renewed, directory: dir }, () => `Renewed ${renewed.runtime_id}: certificate ${renewed.serial_number}, valid until ${renewed.not_after}. Restart the runtime to use it.`);
      }),
    );
  kit.example(renew, "aesp runtime renew --dir ./text-tools");

  const list = runtime
    .command("list")
    .description("List registered runtimes with their live connection state.")
    .option("--runtime-id <id>", "only this runtime")
    .action(
      kit.action(async (ctx, options: { runtimeId?: string }) => {
        const client = await ctx.client();
        const rows: RuntimeInfo[] = [];
        let cursor = "";
        do {
          const page = await client.services.runtimeAdmin.listRuntimes({ runtimeId: options.runtimeId ?? "", cursor });
          rows.push(...page.runtimes);
          cursor = page.nextCursor;
        } while (cursor !== "");
        ctx.table(RuntimeInfoSchema, rows, runtimeColumns);
      }),
    );
  kit.example(list, "aesp runtime list", "aesp runtime list --runtime-id text-tools --json");

  const revoke = runtime
    .command("revoke")
    .description("Revoke a runtime certificate at once; a runtime connected with it is disconnected.")
    .argument("<serial>", "certificate serial number (hex), from aesp runtime list")
    .option("--reason <text>", "recorded in audit and the revocation list", "")
    .action(
      kit.action(async (ctx, serialNumber: string, options: { reason: string }) => {
        const client = await ctx.client();
        const response = await client.services.runtimeAdmin.revokeCertificate({ serialNumber, reason: options.reason });
        ctx.result({ serial_number: serialNumber, revoked: response.revoked, revoked_at_unix_ms: Number(response.revokedAtUnixMs) }, () =>
          response.revoked ? `Revoked certificate ${serialNumber} at ${formatTime(response.revokedAtUnixMs)}.` : `Certificate ${serialNumber} was already revoked.`,
        );
      }),
    );
  kit.example(revoke, 'aesp runtime revoke 4f2a9c01 --reason "host decommissioned"');
}
