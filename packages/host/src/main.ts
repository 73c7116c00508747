/**
 * The composition root: load config → open stores and keys → build the core
 * use-cases → start the API gateway and the runtime plane. The only file that
 * knows every concrete adapter.
 */
import "reflect-metadata";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import {
  Authenticator,
  CallApprovals,
  celPolicyEngine,
  ContractRegistry,
  EnterpriseError,
  ExternalSignIn,
  GovernanceService,
  IdentityProviders,
  IdentityService,
  SignInThrottle,
  TokenService,
  PolicyRegistry,
  PolicyRollouts,
  RuntimeAdmission,
  RuntimeDirectory,
  RuntimeEnrollment,
  SessionManager,
  TenantAdmin,
  TenantDirectory,
  BreakGlassService,
} from "@aesp/core";
import type { AuditEventDraft, PipelineDeps, Store } from "@aesp/core";
import { AuditLog, AuditProofs, Detector, detectionRuleIds } from "@aesp/core/audit";
import type { DetectionRuleId } from "@aesp/core/audit";
import { AlertDispatcher } from "./alerts/alert-dispatcher.ts";
import { CedarPolicyEngine } from "./policy/cedar-engine.ts";
import { alertConnectorsFromConfig } from "./alerts/connectors-from-config.ts";
import { auditRecorder } from "./audit/recorder.ts";
import { AuditSigningKeys } from "./audit/signing-keys.ts";
import { attachDetection } from "./audit/detection-wiring.ts";
import { SiemForwarding, siemDestinationsFromConfig } from "./audit/forwarding/siem-forwarding.ts";
import { AuditRetention } from "./audit/retention.ts";
import { AuditSubjectCipher } from "./audit/subject-cipher.ts";
import { loadHostConfig } from "./config.ts";
import type { HostConfigSources } from "./config.ts";
import { loadOrCreateMasterKey } from "./crypto/master-key.ts";
import { loadOrCreateKey } from "./crypto/key-material.ts";
import { nodeHasher, nodeIdSource, nodeScheduler, rawEd25519PublicKey, ScryptSecretHasher, systemClock } from "./crypto/node-crypto-ports.ts";
import { startGateway } from "./gateway/server.ts";
import type { Gateway } from "./gateway/server.ts";
import {
  DirectorySync,
  HostCredentialInspector,
  IdentityAdapters,
  JoseClientAssertionVerifier,
  OidcBearerAuthenticator,
  StoreReplayGuard,
  StoreSamlRequestCache,
} from "./identity/identity-adapters.ts";
import { HostProviderSettingsCodec } from "./identity/provider-settings.ts";
import { JwtAccessTokens, TokenSigningKeys } from "./identity/jwt-access-tokens.ts";
import { HostScimLifecycle, scimServiceResolver } from "./scim/scim-lifecycle.ts";
import { ScimAuthenticator } from "./scim/scim-authenticator.ts";
import { SCIM_PREFIX } from "./scim/scim-routes.ts";
import { createLogger } from "./observability/logger.ts";
import { HostMetrics } from "./observability/metrics.ts";
import { CertificateAuthority } from "./pki/certificate-authority.ts";
import { startRuntimePlane } from "./runtime-plane/server.ts";
import type { RuntimePlane } from "./runtime-plane/server.ts";
import { openStore } from "./storage/index.ts";
import { formatVerifierKey } from "@aesp/core/audit";

/** Who approves when a request or a REQUIRE_APPROVAL policy names nobody. */
const DEFAULT_APPROVERS = ["role:approver"];

/** The Host's version, reported by GetHostInfo. */
export const hostVersion = "0.1.0";

/** Options of {@link startHost}. */
export interface StartHostOptions extends HostConfigSources {
  /** Where structured logs go; tests use "silent". Default stdout. */
  readonly logDestination?: "stdout" | "stderr" | "silent";
}

/** A running Host. */
export interface RunningHost {
  readonly gatewayUrl: string;
  readonly runtimePlaneUrl: string;
  readonly dataDir: string;
  readonly caCertificatePem: string;
  /** Printed once: non-null only on the very first start of a data store. */
  readonly bootstrapToken: string | null;
  /** The audit signing key's public half, PEM (for offline verification). */
  readonly auditPublicKeyPem: string;
  readonly implementedRpcs: readonly string[];
  readonly logger: Logger;
  /**
   * Runs one audit retention sweep now (the timer runs it every `audit.retention_interval_ms`).
   * `now` measures expiry from a later time, so tests and operators can age events without waiting.
   */
  applyAuditRetention(now?: number): Promise<{ tenants: number; tombstoned: number }>;
  /** Drains runtimes, stops listening, flushes audit and closes storage. */
  close(): Promise<void>;
}

/**
 * Starts a Host: the API gateway and the runtime plane, on SQLite by default.
 * @throws EnterpriseError INVALID_ARGUMENT for bad configuration, UNAVAILABLE when storage cannot be opened.
 */
export async function startHost(options: StartHostOptions = {}): Promise<RunningHost> {
  assertSupportedNode();
  const config = await loadHostConfig(options);
  const v = config.values;
  const logger = createLogger({ level: v["log.level"], destination: options.logDestination ?? "stdout" });
  const metrics = new HostMetrics();
  const alerts = new AlertDispatcher({ logger });
  const clock = systemClock;
  const ids = nodeIdSource;

  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  if (v.mode === "production") refuseDevDefaults(config.origins, v);
  else logger.warn({ dataDir: config.dataDir }, "development mode: dev certificates and an embedded store; set mode=production for real deployments (MUST change)");

  const store: Store = await openStore(
    v["storage.kind"] === "postgres"
      ? { kind: "postgres", connectionString: v["storage.postgres_url"], schema: v["storage.postgres_schema"] }
      : { kind: "sqlite", path: config.sqlitePath },
  );
  const closers: (() => Promise<void>)[] = [() => store.close(), () => alerts.drain()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err: unknown) => logger.error({ err }, "shutdown step failed"));
  };
  try {
    const masterKey = await loadOrCreateMasterKey({ dataDir: config.dataDir, env: options.env ?? {} });
    const ca = await CertificateAuthority.open({ keys: store.platform.keys, masterKey, trustDomain: v.trust_domain, clock, ids });
    const signingKeys = await TokenSigningKeys.open(store.platform.keys, masterKey, clock);
    const auditKey = await loadOrCreateKey(store.platform.keys, masterKey, "audit-signing", "Ed25519", clock, ids);
    const auditKeys = await AuditSigningKeys.open(store.platform.keys, masterKey, clock, v["audit.origin"]);

    const subjectCipher = new AuditSubjectCipher({ store, masterKey, clock, ids });
    const auditLog = new AuditLog(
      {
        store: store.platform.auditLog,
        hasher: nodeHasher,
        signer: auditKeys.signer(),
        clock,
        ids,
        ...(v["audit.encrypt_personal_data"] ? { protect: (drafts: readonly AuditEventDraft[]) => subjectCipher.protect(drafts) } : {}),
        // SQLite commits synchronously: gather a whole event-loop turn of events per commit.
        ...(store.kind === "sqlite" ? { gatherBatch: () => new Promise<void>((resolve) => setImmediate(resolve)) } : {}),
        scheduler: nodeScheduler,
      },
      { origin: v["audit.origin"], checkpointEvery: v["audit.checkpoint_every"], maxBatch: v["audit.max_batch"], maxQueued: v["audit.max_queued"], batchMaxWaitMs: v["audit.batch_max_wait_ms"] },
    );
    // Forwarding and detection read committed batches; closed after the log, so its last batch is still forwarded or dead-lettered.
    const env = options.env ?? {};
    const siem = new SiemForwarding(
      { deadLetters: store.platform.deadLetters, clock, ids, metrics, logger },
      await siemDestinationsFromConfig(v, env, clock),
      { maxQueued: v["siem.queue_size"], maxBatch: v["siem.batch_size"], maxAttempts: v["siem.max_attempts"], retryBaseMs: v["siem.retry_base_ms"], retryMaxMs: v["siem.retry_max_ms"] },
    );
    closers.push(() => siem.close());
    siem.attach(auditLog);
    for (const connector of await alertConnectorsFromConfig(v, env, { clock, ids, metrics })) alerts.add(connector);
    attachDetection(auditLog, new Detector(detectionOptions(v)), { alerts, clock, logger });
    await auditLog.open();
    closers.push(() => auditLog.close());
    const audit = auditRecorder(auditLog, metrics);
    const checkpointTimer = setInterval(() => {
      const latest = auditLog.latestCheckpoint();
      if (auditLog.size > (latest?.treeSize ?? 0)) {
        // Another Host may have rotated the audit key: sign with the current one.
        auditKeys
          .reload()
          .then(() => auditLog.checkpoint())
          .catch((err: unknown) => logger.error({ err }, "audit checkpoint failed"));
      }
    }, v["audit.checkpoint_interval_ms"]);
    checkpointTimer.unref();
    closers.push(async () => clearInterval(checkpointTimer));

    const retention = new AuditRetention(
      { store, audit, clock, ids, cipher: subjectCipher },
      { defaultDays: v["audit.default_retention_days"], floorDays: v["audit.security_min_retention_days"], batch: v["audit.retention_batch"] },
    );
    const retentionTimer = setInterval(() => void retention.sweep().catch((err: unknown) => logger.warn({ err }, "audit retention sweep failed; retrying next interval")), v["audit.retention_interval_ms"]);
    retentionTimer.unref();
    closers.push(async () => clearInterval(retentionTimer));

    const tenants = new TenantDirectory({ store, clock, principalTtlMs: v["identity.principal_cache_ms"], engines: { cel: celPolicyEngine, cedar: new CedarPolicyEngine() } });
    const breakGlass = new BreakGlassService({
      store,
      clock,
      ids,
      audit,
      tenants,
      alerts,
      options: { maxDurationSeconds: v["break_glass.max_duration_seconds"], reviewDueSeconds: v["break_glass.review_due_seconds"] },
    });
    const tokenAudience = "aesp-api";
    const accessTokens = new JwtAccessTokens({ issuer: v["identity.token_issuer"], audience: tokenAudience, keys: signingKeys, clock, ids });
    const keyReload = setInterval(() => void signingKeys.reload().catch((err: unknown) => logger.error({ err }, "token key reload failed")), 30_000);
    keyReload.unref();
    closers.push(async () => clearInterval(keyReload));
    const authenticator = new Authenticator({ tokens: accessTokens, tenants, store, clock });
    const tokenService = new TokenService({
      store,
      clock,
      ids,
      hasher: nodeHasher,
      tokens: accessTokens,
      audit,
      options: { accessTokenTtlSeconds: v["identity.access_token_ttl_seconds"], refreshTokenTtlSeconds: v["identity.refresh_token_ttl_seconds"] },
    });
    const throttle = new SignInThrottle({
      store: store.platform.signInThrottle,
      clock,
      audit,
      options: {
        maxFailuresPerAccount: v["identity.lockout_account_failures"],
        maxFailuresPerSource: v["identity.lockout_source_failures"],
        windowMs: v["identity.lockout_window_seconds"] * 1000,
        baseLockMs: v["identity.lockout_base_seconds"] * 1000,
        maxLockMs: v["identity.lockout_max_seconds"] * 1000,
      },
    });
    const identity = new IdentityService({
      store,
      clock,
      ids,
      hasher: nodeHasher,
      secrets: new ScryptSecretHasher(),
      tokens: tokenService,
      throttle,
      audit,
      tenants,
      options: { platformTenantId: v["identity.platform_tenant"], maxSecretOverlapSeconds: v["identity.max_secret_overlap_seconds"] },
    });
    const bootstrapToken = await identity.initialize();
    const sessions = new SessionManager({ store, clock, ids, audit, options: { defaultTtlSeconds: v["sessions.default_ttl_seconds"], maxTtlSeconds: v["sessions.max_ttl_seconds"] } });
    const externalSignIn = new ExternalSignIn({ store, clock, ids, audit, tenants, tokens: tokenService, sessions, throttle });
    let publicUrl = v["identity.public_url"].replace(/\/+$/, "");
    const settingsCodec = new HostProviderSettingsCodec(masterKey);
    const adapters = new IdentityAdapters({
      codec: settingsCodec,
      clock,
      samlRequests: new StoreSamlRequestCache(store.platform.oneTimeValues, clock),
      acsUrl: (tenantId, providerId) => `${publicUrl}/saml/${tenantId}/${providerId}/acs`,
    });
    closers.push(() => adapters.close());
    let bearers: OidcBearerAuthenticator | null = null;
    const identityProviders = new IdentityProviders({
      store,
      clock,
      audit,
      tenants,
      codec: settingsCodec,
      onChange: (tenantId, providerId) => {
        adapters.forget(tenantId, providerId);
        bearers?.invalidate();
      },
    });
    bearers = new OidcBearerAuthenticator({ hostIssuer: v["identity.token_issuer"], store, providers: identityProviders, adapters, signIn: externalSignIn, tenants, clock });
    authenticator.acceptExternalBearers(bearers);
    const directorySync = new DirectorySync({ store, providers: identityProviders, adapters, signIn: externalSignIn, logger });
    if (v["identity.directory_sync_interval_seconds"] > 0) {
      const syncTimer = setInterval(() => void directorySync.syncAll(), v["identity.directory_sync_interval_seconds"] * 1000);
      syncTimer.unref();
      closers.push(async () => clearInterval(syncTimer));
    }
    // Housekeeping of identity state that outlives its purpose; every Host may run it (deletes are idempotent).
    const purgeIdentityLeftovers = async (): Promise<void> => {
      const now = clock.now();
      await store.platform.oneTimeValues.purgeExpired(now);
      await throttle.purgeExpired();
      for (const tenant of await store.platform.tenants.list()) await store.forTenant(tenant.tenantId).revokedTokens.purgeExpired(now);
      // Break-glass grants stop acting at their expiry on their own; this records each expiry once and raises overdue-review alerts.
      await breakGlass.sweep();
    };
    const purgeTimer = setInterval(() => void purgeIdentityLeftovers().catch((err: unknown) => logger.warn({ err }, "identity housekeeping failed; retrying in a minute")), 60_000);
    purgeTimer.unref();
    closers.push(async () => clearInterval(purgeTimer));
    const scimClients = new ScimAuthenticator({ store, clock, audit, tenants, identity, authenticator, throttle });
    const directory = new RuntimeDirectory({ clock, breaker: { failureThreshold: v["routing.breaker_failure_threshold"], openMs: v["routing.breaker_open_ms"] } });
    let runtimePlane: RuntimePlane | null = null;
    const enrollment = new RuntimeEnrollment({
      store,
      clock,
      ids,
      hasher: nodeHasher,
      audit,
      issuer: ca,
      revocations: { revoked: (tenantId, serial) => runtimePlane?.revoke(tenantId, serial) },
      options: {
        joinTokenTtlSeconds: v["runtimes.join_token_ttl_seconds"],
        maxJoinTokenTtlSeconds: v["runtimes.max_join_token_ttl_seconds"],
        certificateValiditySeconds: v["runtimes.certificate_validity_seconds"],
      },
    });
    const governance = new GovernanceService({ store, clock, ids, audit, tenants, options: { defaultExpirySeconds: v["governance.approval_expiry_seconds"], defaultApprovers: DEFAULT_APPROVERS } });
    const callApprovals = new CallApprovals({
      store,
      clock,
      ids,
      hasher: nodeHasher,
      audit,
      governance,
      scheduler: nodeScheduler,
      alerts,
      options: {
        expirySeconds: v["governance.call_approval_expiry_seconds"],
        waitSeconds: v["governance.call_approval_wait_seconds"],
        useSeconds: v["governance.call_approval_use_seconds"],
        pollMs: v["governance.call_approval_poll_ms"],
        defaultApprovers: DEFAULT_APPROVERS,
      },
    });
    const rollouts = new PolicyRollouts({
      store,
      clock,
      ids,
      audit,
      tenants,
      governance,
      alerts,
      options: { flushEvery: v["policy_rollouts.flush_every"] },
      onError: (err: unknown) => logger.warn({ err }, "policy rollout counts not stored yet; retrying with the next batch"),
    });
    const rolloutFlush = setInterval(() => void rollouts.flush().catch((err: unknown) => logger.warn({ err }, "policy rollout flush failed")), v["policy_rollouts.flush_interval_ms"]);
    rolloutFlush.unref();
    // Registered before the audit log's closer runs (closers run in reverse): the last counts and any rollback are audited.
    closers.push(async () => {
      clearInterval(rolloutFlush);
      await rollouts.flush().catch((err: unknown) => logger.warn({ err }, "policy rollout counts lost at shutdown"));
    });
    const pipeline: PipelineDeps = {
      clock,
      audit,
      sessions,
      tenants,
      runtimes: directory,
      rollouts,
      tenantInFlight: new Map(),
      callApprovals,
      breakGlass,
      options: {
        defaultTimeoutMs: v["invocation.default_timeout_ms"],
        maxTimeoutMs: v["invocation.max_timeout_ms"],
        maxInFlightPerSession: v["invocation.max_in_flight_per_session"],
        maxInFlightPerTenant: v["invocation.max_in_flight_per_tenant"],
      },
    };

    const serverNames = { dnsNames: v["gateway.dns_names"].split(",").map((s) => s.trim()).filter(Boolean), ipAddresses: ["127.0.0.1", "::1"] };
    const gatewayCert =
      v["gateway.tls_cert_file"] !== ""
        ? { certificatePem: await readFile(v["gateway.tls_cert_file"], "utf8"), privateKeyPem: await readFile(v["gateway.tls_key_file"], "utf8") }
        : await ca.issueServerCertificate(serverNames);
    const runtimeCert = await ca.issueServerCertificate(serverNames);

    runtimePlane = await startRuntimePlane(
      { clock, ids, admission: new RuntimeAdmission({ store, clock, audit, tenants }), directory, audit, logger, metrics },
      {
        host: v["runtime_plane.host"],
        port: v["runtime_plane.port"],
        trustDomain: v.trust_domain,
        caCertificatePem: ca.caCertificatePem,
        certificatePem: runtimeCert.certificatePem,
        privateKeyPem: runtimeCert.privateKeyPem,
        heartbeatIntervalMs: v["runtime_plane.heartbeat_interval_ms"],
        maxInFlightPerRuntime: v["runtime_plane.max_in_flight_per_runtime"],
        maxMessageBytes: v["runtime_plane.max_message_bytes"],
        announceTimeoutMs: 10_000,
      },
    );
    const plane = runtimePlane;
    closers.push(() => plane.close(5_000));

    const auditPublicRaw = rawEd25519PublicKey(auditKey.publicKey);
    const gateway: Gateway = await startGateway(
      {
        clock,
        ids,
        audit,
        store,
        authenticator,
        identity,
        tokens: tokenService,
        signingKeys,
        identityProviders,
        externalSignIn,
        adapters,
        directorySync,
        replayGuard: new StoreReplayGuard(store.platform.oneTimeValues, clock),
        clientAssertions: new JoseClientAssertionVerifier(tokenAudience, clock),
        credentialInspector: new HostCredentialInspector(),
        publicUrl: () => publicUrl,
        platformTenantId: v["identity.platform_tenant"],
        tenantAdmin: new TenantAdmin({ store, clock, audit, tenants, platformTenantId: v["identity.platform_tenant"] }),
        tenants,
        sessions,
        contracts: new ContractRegistry({ store, clock, audit, tenants }),
        governance,
        rollouts,
        policies: new PolicyRegistry({ store, clock, ids, audit, engines: (tenantId) => tenants.engineOf(tenantId) }),
        enrollment,
        runtimes: directory,
        pipeline,
        breakGlass,
        hostInfo: {
          version: hostVersion,
          trustDomain: v.trust_domain,
          caCertificatePem: ca.caCertificatePem,
          runtimePlaneUrl: plane.url,
          auditKeys: [
            {
              keyId: auditKey.record.keyId,
              publicKeyRaw: auditPublicRaw,
              publicKeyPem: auditKey.record.publicKeyPem,
              verifierKey: formatVerifierKey({ keyName: v["audit.origin"], publicKey: auditPublicRaw }, nodeHasher),
              createdAt: auditKey.record.createdAt,
              retiredAt: auditKey.record.retiredAt,
            },
          ],
        },
        auditTrail: {
          proofs: new AuditProofs({ log: store.platform.auditLog, proofs: store.platform.auditProofs, hasher: nodeHasher, checkpointNow: () => auditLog.checkpoint() }),
          keys: auditKeys,
          checkpointNow: () => auditLog.checkpoint(),
          origin: v["audit.origin"],
        },
        describeConnections: (tenantId) =>
          plane
            .connections()
            .filter((c) => c.tenantId === tenantId)
            .map((c) => ({
              runtimeId: c.runtimeId,
              healthy: c.isHealthy(clock.now()),
              inFlight: c.inFlight,
              acceptedContracts: [...c.contracts],
              connectedSince: c.connectedAt,
              lastHeartbeat: c.lastHeartbeat,
              language: c.facts.language,
              version: c.facts.version,
            })),
        siem,
        retention,
        subjectCipher,
      },
      {
        host: v["gateway.host"],
        port: v["gateway.port"],
        certificatePem: gatewayCert.certificatePem,
        privateKeyPem: gatewayCert.privateKeyPem,
        maxRequestBytes: v["gateway.max_request_bytes"],
        rateLimitPerIp: v["gateway.rate_limit_per_ip"],
        rateLimitPerPrincipal: v["gateway.rate_limit_per_principal"],
      },
      {
        logger,
        metrics,
        audit,
        ready: () => store.ping(),
        scim: {
          service: scimServiceResolver({ store, clock, ids, audit, tenants, lifecycle: new HostScimLifecycle({ signIn: externalSignIn, tenants }) }),
          authenticate: (bearer, origin) => scimClients.authenticate(bearer, origin),
          baseUrl: () => (publicUrl === "" ? "" : `${publicUrl}${SCIM_PREFIX}`),
          onError: (err, request) => logger.error({ err, path: request.url }, "SCIM request failed with a server error"),
        },
      },
    );
    closers.push(() => gateway.close());
    if (publicUrl === "") publicUrl = gateway.url;

    const caPath = path.join(config.dataDir, "ca.pem");
    await writeFile(caPath, ca.caCertificatePem);
    const auditKeyPath = path.join(config.dataDir, "audit-public-key.pem");
    await writeFile(auditKeyPath, auditKey.record.publicKeyPem);
    await chmod(config.dataDir, 0o700);
    logger.info({ gateway: gateway.url, runtimePlane: plane.url, storage: store.kind }, "AESP Host started");

    let closed = false;
    return {
      gatewayUrl: gateway.url,
      runtimePlaneUrl: plane.url,
      dataDir: config.dataDir,
      caCertificatePem: ca.caCertificatePem,
      bootstrapToken,
      auditPublicKeyPem: auditKey.record.publicKeyPem,
      implementedRpcs: gateway.implementedRpcs,
      logger,
      applyAuditRetention: (now) => retention.sweep(now),
      async close() {
        if (closed) return;
        closed = true;
        await closeAll();
        logger.flush();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Refuses to run on Node older than 22.12, with a message saying what to do. */
export function assertSupportedNode(version = process.versions.node): void {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new EnterpriseError("INVALID_ARGUMENT", {
      message: `AESP Host needs Node.js 22.12 or newer (found ${version}). Install Node 24 LTS and retry.`,
    });
  }
}

/** Detection thresholds from the `alerts.*` keys. */
function detectionOptions(v: Record<string, unknown> & { "alerts.disabled_rules": string }) {
  const disabled = v["alerts.disabled_rules"].split(",").map((rule) => rule.trim()).filter((rule) => rule !== "");
  for (const rule of disabled) {
    if (!(detectionRuleIds as readonly string[]).includes(rule)) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: `alerts.disabled_rules: unknown rule "${rule}" (known: ${detectionRuleIds.join(", ")}).`, details: { key: "alerts.disabled_rules" } });
    }
  }
  return {
    denialThreshold: Number(v["alerts.denials_threshold"]),
    denialWindowMs: Number(v["alerts.denials_window_seconds"]) * 1000,
    signInFailureThreshold: Number(v["alerts.sign_in_failures_threshold"]),
    signInFailureWindowMs: Number(v["alerts.sign_in_failures_window_seconds"]) * 1000,
    cooldownMs: Number(v["alerts.cooldown_seconds"]) * 1000,
    disabled: disabled as DetectionRuleId[],
  };
}

function refuseDevDefaults(origins: Record<string, string>, values: Record<string, unknown>): void {
  const problems: string[] = [];
  if (values["gateway.tls_cert_file"] === "") problems.push("gateway.tls_cert_file (an enterprise certificate for the gateway)");
  if (origins["data_dir"] === "default") problems.push("data_dir (set an explicit, backed-up location)");
  if (problems.length > 0) {
    throw new EnterpriseError("INVALID_ARGUMENT", { message: `mode=production refuses development defaults; set: ${problems.join("; ")}.` });
  }
}
