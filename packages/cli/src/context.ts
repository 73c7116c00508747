/**
 * What every command shares: the process I/O (injectable for tests), the resolved connection
 * settings (flags > environment > profile > defaults) and the output mode.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { AespError, createAespClient } from "@aesp/client";
import type { AespClient } from "@aesp/client";
import { profilePath, readProfiles, updateProfile, withProfileLock } from "./profiles.ts";
import type { Profile } from "./profiles.ts";

/** The `aesp login` flags that repeat a stored sign-in method (`oidc:corp` → `--oidc corp`). */
export function signInFlag(signIn: string | undefined): string {
  const [kind, provider] = (signIn ?? "").split(":", 2);
  if (kind === "ldap") return `--ldap ${provider ?? ""} --username <name>`.replace("  ", " ");
  if (kind === "oidc" || kind === "saml") return `--${kind} ${provider ?? ""}`.trim();
  return "--oidc | --saml | --ldap";
}
import { formatTable } from "./table.ts";
import type { Column } from "./table.ts";

/** The Gateway URL used when neither a flag, the environment nor the profile names one. */
export const defaultHostUrl = "https://127.0.0.1:7443";

/** Progress of an audit verification, as the Host reports it. */
export type VerifyOutcome = { ok: true; size: number; checkpoints: number; /** Records whose content retention removed (verified by hash). */ tombstones: number } | { ok: false; firstBadSeq: number; eventId: string; reason: string };

/** The part of `@aesp/host` the CLI uses; loaded with a dynamic import so that only `start` and `audit verify` pay for it. */
export interface HostModule {
  startHost(options: { configFile?: string; flags?: Record<string, unknown>; env?: Record<string, string | undefined>; logDestination?: "stdout" | "silent" }): Promise<{
    gatewayUrl: string;
    runtimePlaneUrl: string;
    dataDir: string;
    caCertificatePem: string;
    bootstrapToken: string | null;
    close(): Promise<void>;
  }>;
  verifyAuditStore(options: {
    configFile?: string;
    flags?: Record<string, unknown>;
    env?: Record<string, string | undefined>;
    publicKeyPem?: string;
    onProgress?: (checked: number, total: number) => void;
  }): Promise<VerifyOutcome>;
  verifyAuditInclusion(served: ServedInclusionProof, verifierKeys: readonly string[], origin?: string): ProofCheck;
  verifyAuditConsistency(served: { oldSize: number; oldNote: string; newNote: string; proof: readonly string[] }, verifierKeys: readonly string[], origin?: string): ProofCheck;
  verifyAuditExport(file: string, keys: readonly string[], onProgress?: (events: number) => void): Promise<ExportCheck>;
}

/** The verdict on an export file (`aesp audit verify --export`). */
export type ExportCheck =
  | { ok: true; events: number; tenantId: string; treeSize: number; rootHash: string; checkpoints: number; keyId: string }
  | { ok: false; line: number; eventId: string; seq: number | null; reason: string };

/** An inclusion proof as GetInclusionProof serves it, with the event's hashed fields. */
export interface ServedInclusionProof {
  event: {
    eventId: string;
    timestampMs: number;
    eventType: string;
    tenantId: string;
    principalId: string;
    sessionId: string;
    resource: string;
    action: string;
    outcome: "SUCCESS" | "FAILURE" | "DENIED" | "ERROR";
    sourceIp: string;
    userAgent: string;
    correlationId: string;
    riskScore: string;
    policyViolations: string[];
    metadata: Record<string, string>;
  };
  leafIndex: number;
  leafHash: string;
  treeSize: number;
  proof: readonly string[];
  signedNote: string;
}

/** Outcome of checking a served proof locally. */
export type ProofCheck = { ok: true; treeSize: number; rootHash: string; keyId: string } | { ok: false; reason: string };

/** The process around the CLI. Tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Whether stderr is a terminal (progress lines are only drawn there). */
  readonly stderrIsTty: boolean;
  /** Resolves with the signal name on the first SIGINT/SIGTERM. */
  waitForShutdownSignal(): Promise<string>;
  loadHost(): Promise<HostModule>;
  /**
   * Reads a secret: from the terminal without echo after printing `prompt` to stderr, or, when
   * stdin is not a terminal, the first line of stdin (for `--password-stdin` and scripts).
   */
  readSecret(prompt: string): Promise<string>;
  /** Opens a URL in the person's browser; rejects when none can be started. */
  openBrowser(url: string): Promise<void>;
}

/** The options every command accepts. */
export interface GlobalOptions {
  host?: string;
  ca?: string;
  json?: boolean;
  profile?: string;
}

/** Resolved connection settings. */
export interface Settings {
  readonly profileName: string;
  readonly profile: Profile;
  readonly profilePath: string;
  readonly host: string;
  /** Absolute path of the CA PEM, when one is configured or found. */
  readonly caPath: string | undefined;
  readonly apiKey: string | undefined;
}

/** Refresh a person's access token when it has less than this left. */
const accessTokenRefreshSkewMs = 30_000;

/** Per-invocation state of a command. */
export class CliContext {
  readonly io: CliIo;
  readonly globals: GlobalOptions;
  #settings: Promise<Settings> | null = null;
  #clients: AespClient[] = [];

  constructor(io: CliIo, globals: GlobalOptions) {
    this.io = io;
    this.globals = globals;
  }

  /** Whether output should be JSON for scripts. */
  get json(): boolean {
    return this.globals.json === true;
  }

  /** Connection settings: `--host`/`--ca` > `AESP_HOST`/`AESP_CA` > profile > defaults; `AESP_API_KEY` overrides the profile's key. */
  settings(): Promise<Settings> {
    this.#settings ??= this.#resolveSettings();
    return this.#settings;
  }

  async #resolveSettings(): Promise<Settings> {
    const env = this.io.env;
    const path = profilePath(env);
    const file = await readProfiles(path);
    const profileName = nonEmpty(this.globals.profile) ?? nonEmpty(env["AESP_PROFILE"]) ?? file.current;
    const profile = file.profiles[profileName] ?? {};
    const host = nonEmpty(this.globals.host) ?? nonEmpty(env["AESP_HOST"]) ?? nonEmpty(profile.host) ?? defaultHostUrl;
    let caPath = nonEmpty(this.globals.ca) ?? nonEmpty(env["AESP_CA"]) ?? nonEmpty(profile.ca);
    if (caPath === undefined) {
      // A Host started from this directory with the default data dir left its CA here.
      const local = resolve(this.io.cwd, ".aesp", "ca.pem");
      if (existsSync(local)) caPath = local;
    }
    return {
      profileName,
      profile,
      profilePath: path,
      host,
      caPath: caPath === undefined ? undefined : resolve(this.io.cwd, caPath),
      apiKey: nonEmpty(env["AESP_API_KEY"]) ?? nonEmpty(profile.api_key),
    };
  }

  /**
   * A client of the configured Host. With `authenticated` (the default) a credential is required:
   * an API key (flag, `AESP_API_KEY` or profile), else the profile's sign-in tokens, refreshed
   * here when the access token is about to expire.
   * @throws AespError AUTHENTICATION_FAILED when there is no credential or the sign-in has ended; INVALID_ARGUMENT when the CA file cannot be read.
   */
  async client(options: { authenticated?: boolean; host?: string; apiKey?: string } = {}): Promise<AespClient> {
    const settings = await this.settings();
    const authenticated = options.authenticated ?? true;
    const apiKey = options.apiKey ?? settings.apiKey;
    const connect = async (credential: { apiKey?: string; accessToken?: string }): Promise<AespClient> => {
      const caCertificatePem = await this.caCertificatePem();
      const client = createAespClient({
        baseUrl: options.host ?? settings.host,
        ...(caCertificatePem === undefined ? {} : { caCertificatePem }),
        ...credential,
      });
      this.#clients.push(client);
      return client;
    };
    if (!authenticated) return connect({});
    if (apiKey !== undefined) return connect({ apiKey });
    const accessToken = await this.#signedInAccessToken(settings, () => connect({}));
    if (accessToken === undefined) {
      throw new AespError({
        code: "AUTHENTICATION_FAILED",
        message: `No credentials for profile "${settings.profileName}".`,
        remediation: [
          "Sign in: aesp login --tenant <tenant> --oidc | --saml | --ldap --username <name>.",
          "Or store a key: aesp login --api-key <key> (first administrator: aesp login --bootstrap-token <token>).",
          "Or set AESP_API_KEY for this command.",
        ],
      });
    }
    return connect({ accessToken });
  }

  /**
   * The profile's access token from a person's sign-in, refreshed through the rotating refresh
   * token when it expires within {@link accessTokenRefreshSkewMs}. The refresh runs under the
   * profile lock and re-reads the profile inside it, since another `aesp` process may have
   * rotated the refresh token meanwhile (presenting the old one would revoke the sign-in).
   */
  async #signedInAccessToken(settings: Settings, publicClient: () => Promise<AespClient>): Promise<string | undefined> {
    const fresh = (profile: Profile): string | undefined => {
      const expiresAt = Number(profile.access_token_expires_at ?? "0");
      return profile.access_token !== undefined && profile.access_token !== "" && expiresAt - accessTokenRefreshSkewMs > Date.now() ? profile.access_token : undefined;
    };
    const current = fresh(settings.profile);
    if (current !== undefined) return current;
    if (settings.profile.refresh_token === undefined || settings.profile.refresh_token === "") return undefined;
    return await withProfileLock(settings.profilePath, async () => {
      const profile = (await readProfiles(settings.profilePath)).profiles[settings.profileName] ?? {};
      const refreshedMeanwhile = fresh(profile);
      if (refreshedMeanwhile !== undefined) return refreshedMeanwhile;
      const refreshToken = profile.refresh_token;
      if (refreshToken === undefined || refreshToken === "") return undefined;
      let response;
      try {
        response = await (await publicClient()).services.authentication.refreshToken({ refreshToken });
      } catch (err) {
        if (err instanceof AespError && (err.code === "AUTHENTICATION_FAILED" || err.code === "TOKEN_EXPIRED")) {
          // The sign-in ended (expired, revoked, deprovisioned): forget the dead tokens.
          await updateProfile(settings.profilePath, settings.profileName, { access_token: null, access_token_expires_at: null, refresh_token: null });
          throw new AespError({
            code: err.code,
            message: `The sign-in of profile "${settings.profileName}" has ended (${err.message})`,
            details: err.details,
            remediation: [`Sign in again: aesp login --tenant ${profile.tenant ?? "<tenant>"} ${signInFlag(profile.sign_in)}`],
            cause: err,
          });
        }
        throw err;
      }
      await updateProfile(settings.profilePath, settings.profileName, {
        access_token: response.accessToken,
        access_token_expires_at: String(response.expiresAt),
        refresh_token: response.refreshToken,
      });
      return response.accessToken;
    });
  }

  /** The CA PEM to trust for the gateway, if configured. */
  async caCertificatePem(): Promise<string | undefined> {
    const { caPath } = await this.settings();
    if (caPath === undefined) return undefined;
    try {
      return await readFile(caPath, "utf8");
    } catch {
      throw new AespError({
        code: "INVALID_ARGUMENT",
        message: `Cannot read the CA certificate ${caPath}.`,
        details: { path: caPath },
        remediation: ["Point --ca (or the profile's CA) at the Host's ca.pem, written by `aesp start` into its data directory."],
      });
    }
  }

  /** Writes text to stdout as is. */
  out(text: string): void {
    this.io.stdout(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Writes a notice to stderr (kept out of stdout so scripts can parse it). */
  note(text: string): void {
    this.io.stderr(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Prints a plain value: JSON with --json, else the text rendering. */
  result(json: unknown, text: () => string): void {
    if (this.json) this.out(JSON.stringify(json, jsonReplacer, 2));
    else this.out(text());
  }

  /** Prints a list: a JSON array of proto JSON with --json, else a table. */
  table<Desc extends DescMessage>(schema: Desc, rows: readonly MessageShape<Desc>[], columns: readonly Column<MessageShape<Desc>>[], extra?: Record<string, unknown>): void {
    if (this.json) {
      this.out(JSON.stringify({ items: rows.map((row) => protoJson(schema, row)), ...extra }, null, 2));
    } else {
      this.out(formatTable(columns, rows));
    }
  }

  /** Prints one proto message: its proto JSON with --json, else the text rendering. */
  message<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, text: () => string): void {
    if (this.json) this.out(JSON.stringify(protoJson(schema, message), null, 2));
    else this.out(text());
  }

  /** Closes every client the command opened. */
  close(): void {
    for (const client of this.#clients) client.close();
    this.#clients = [];
  }
}

/** A message as proto JSON with snake_case names and every field present, as the API documents it. */
export function protoJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): unknown {
  return toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true });
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Formats a Unix-ms timestamp (0 means none) for tables. */
export function formatTime(unixMs: bigint | number): string {
  const ms = Number(unixMs);
  if (ms <= 0) return "";
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
