/**
 * The runtime SDK's entry point: a process that fulfils Host-defined tool contracts over one
 * mutual-TLS 1.3 stream to the Host's runtime plane, reconnecting with backoff when asked to.
 */
import { EventEmitter } from "node:events";
import { create } from "@bufbuild/protobuf";
import { AespError, toAespError } from "@aesp/client";
import { RuntimeMessageSchema } from "@aesp/proto/runtime";
import { RuntimeConnection } from "./connection.ts";
import type { ConnectionEnd, EndReason, HandlerErrorInfo, RuntimeAcceptance, ToolHandler } from "./connection.ts";
import { assertIdentityMatches, readCertificateIdentity } from "./identity.ts";
import type { RuntimeCertificateIdentity } from "./identity.ts";

/** Version of this SDK, announced to the Host. */
export const runtimeSdkVersion = "0.1.0";

/** Reconnection backoff: exponential from `initialDelayMs` up to `maxDelayMs`, with jitter. */
export interface ReconnectOptions {
  /** Default 500 ms. */
  initialDelayMs?: number;
  /** Default 30 s. */
  maxDelayMs?: number;
}

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  /** The Host's runtime listener, e.g. `https://127.0.0.1:7444`. */
  runtimePlaneUrl: string;
  runtimeId: string;
  tenantId: string;
  /** The client certificate issued at enrolment (PEM); its SPIFFE id must name this runtime and tenant. */
  certificatePem: string;
  /** The private key of that certificate (PEM). It never leaves this process. */
  privateKeyPem: string;
  /** CA certificate(s) to trust for the runtime listener. */
  caCertificatePem: string | readonly string[];
  /** Handlers keyed by `name@version` (exact SemVer). Their keys are the declared contracts. */
  handlers: Readonly<Record<string, ToolHandler>>;
  /** Announced language; default `typescript`. */
  language?: string;
  /** Announced SDK version; default {@link runtimeSdkVersion}. */
  version?: string;
  /** Calls run at once; more wait in arrival order. Default 256. */
  maxConcurrency?: number;
  /** Reconnect with backoff after the stream ends unexpectedly (or the Host drains). Default off. */
  reconnect?: boolean | ReconnectOptions;
  /** DEV | TEST | PROD, announced. */
  deploymentEnvironment?: string;
  /** Free-form labels, announced (no secrets). */
  metadata?: Record<string, string>;
  /** Shorthand for `runtime.on("disconnect", …)`. */
  onDisconnect?: (info: DisconnectInfo) => void;
}

/** Emitted when an accepted stream ends. */
export interface DisconnectInfo {
  readonly reason: EndReason;
  readonly error: AespError | undefined;
  /** Whether the runtime will try to connect again. */
  readonly willReconnect: boolean;
}

/** Emitted before each reconnection attempt. */
export interface ReconnectingInfo {
  readonly attempt: number;
  readonly delayMs: number;
  readonly lastError: AespError | undefined;
}

/** Events of a {@link Runtime}. */
export interface RuntimeEvents {
  /** The Host accepted an announcement (first start and every reconnection). */
  connected: [RuntimeAcceptance];
  disconnect: [DisconnectInfo];
  reconnecting: [ReconnectingInfo];
  /** A handler threw something other than a ToolError; the caller saw only INTERNAL_ERROR. */
  handlerError: [HandlerErrorInfo];
}

/** Lifecycle of a {@link Runtime}. */
export type RuntimeState = "idle" | "connecting" | "connected" | "reconnecting" | "draining" | "closed";

const contractKeyPattern = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}@\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;

/**
 * Creates a runtime; nothing connects until {@link Runtime.start}.
 *
 * @example
 * const runtime = createRuntime({ runtimePlaneUrl, runtimeId, tenantId, certificatePem, privateKeyPem,
 *   caCertificatePem, handlers: { "text_stats@1.0.0": async ({ text }) => ({ words: 2 }) } });
 * await runtime.start();
 *
 * @throws AespError INVALID_ARGUMENT for malformed options, CERTIFICATE_INVALID when the certificate
 * does not name `runtimeId` and `tenantId`.
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new Runtime(options);
}

/** A connected (or connectable) tool runtime. Create it with {@link createRuntime}. */
export class Runtime extends EventEmitter<RuntimeEvents> {
  /** The identity read from the runtime's certificate. */
  readonly identity: RuntimeCertificateIdentity;
  /** Resolves when the runtime has stopped for good (closed, drained, or given up reconnecting). */
  readonly closed: Promise<void>;

  readonly #options: RuntimeOptions;
  readonly #handlers: ReadonlyMap<string, ToolHandler>;
  readonly #declared: readonly string[];
  readonly #maxConcurrency: number;
  readonly #reconnect: Required<ReconnectOptions> | null;
  readonly #closed = Promise.withResolvers<void>();
  #state: RuntimeState = "idle";
  #connection: RuntimeConnection | null = null;
  #acceptance: RuntimeAcceptance | null = null;
  #wakeReconnect: (() => void) | null = null;

  constructor(options: RuntimeOptions) {
    super();
    this.#options = options;
    this.closed = this.#closed.promise;
    const declared = Object.keys(options.handlers);
    if (declared.length === 0) throw invalidOption("handlers", "Register at least one handler, keyed by name@version.");
    for (const key of declared) {
      if (!contractKeyPattern.test(key)) throw invalidOption("handlers", `Handler key ${JSON.stringify(key)} is not name@version (e.g. text_stats@1.0.0).`);
      if (typeof options.handlers[key] !== "function") throw invalidOption("handlers", `The handler for ${key} is not a function.`);
    }
    this.#declared = declared;
    this.#handlers = new Map(Object.entries(options.handlers));
    const maxConcurrency = options.maxConcurrency ?? 256;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw invalidOption("maxConcurrency", "maxConcurrency must be a positive integer.");
    this.#maxConcurrency = maxConcurrency;
    this.#reconnect =
      options.reconnect === undefined || options.reconnect === false
        ? null
        : { initialDelayMs: 500, maxDelayMs: 30_000, ...(options.reconnect === true ? {} : options.reconnect) };
    try {
      new URL(options.runtimePlaneUrl);
    } catch {
      throw invalidOption("runtimePlaneUrl", `Not a URL: ${options.runtimePlaneUrl}`);
    }
    this.identity = readCertificateIdentity(options.certificatePem);
    assertIdentityMatches(this.identity, { tenantId: options.tenantId, runtimeId: options.runtimeId });
    if (options.onDisconnect !== undefined) this.on("disconnect", options.onDisconnect);
  }

  /** Where the runtime is in its lifecycle. */
  get state(): RuntimeState {
    return this.#state;
  }

  /** Calls outstanding on the current stream. */
  get inFlight(): number {
    return this.#connection?.inFlight ?? 0;
  }

  /** The Host's answer to the latest accepted announcement, or null before the first. */
  get acceptance(): RuntimeAcceptance | null {
    return this.#acceptance;
  }

  /**
   * Connects, announces the declared contracts and resolves once the Host accepts.
   * Failures are not retried here, even with `reconnect` (wrap in `withRetry` for that).
   * @throws AespError the Host's rejection (e.g. RUNTIME_REJECTED, CERTIFICATE_INVALID) or a transport failure (UNAVAILABLE).
   */
  async start(): Promise<RuntimeAcceptance> {
    if (this.#state !== "idle") {
      throw new AespError({ code: "INVALID_STATE_TRANSITION", message: `start() called on a runtime that is ${this.#state}.`, remediation: ["Create a new runtime to connect again."] });
    }
    this.#state = "connecting";
    const connection = this.#open();
    try {
      const acceptance = await connection.accepted;
      this.#onAccepted(acceptance);
      return acceptance;
    } catch (err) {
      this.#finish();
      throw toAespError(err);
    }
  }

  /**
   * Tells the Host the runtime is leaving, stops taking calls, waits up to `graceMs` for in-flight
   * calls (then aborts them), closes the stream and stops for good.
   */
  async drain(graceMs = 10_000): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "draining";
    this.#wakeReconnect?.();
    const connection = this.#connection;
    if (connection !== null) await connection.drain(graceMs, "runtime");
    this.#finish();
  }

  /** Closes the stream at once (in-flight calls are aborted) and stops for good. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#wakeReconnect?.();
    const connection = this.#connection;
    if (connection !== null) {
      connection.close();
      await connection.ended;
    }
    this.#finish();
  }

  #open(): RuntimeConnection {
    const identity = this.identity;
    const options = this.#options;
    const connection = new RuntimeConnection({
      runtimePlaneUrl: options.runtimePlaneUrl,
      caCertificatesPem: typeof options.caCertificatePem === "string" ? [options.caCertificatePem] : [...options.caCertificatePem],
      certificatePem: options.certificatePem,
      privateKeyPem: options.privateKeyPem,
      declaredContracts: this.#declared,
      handlers: this.#handlers,
      maxConcurrency: this.#maxConcurrency,
      onHandlerError: (info) => this.emit("handlerError", info),
      announcement: create(RuntimeMessageSchema, {
        kind: {
          case: "announcement",
          value: {
            runtimeId: options.runtimeId,
            tenantId: options.tenantId,
            language: options.language ?? "typescript",
            version: options.version ?? runtimeSdkVersion,
            capabilities: ["streaming", "cancellation", "drain", "heartbeat"],
            declaredContracts: [...this.#declared],
            certificateIdentity: { spiffeId: identity.spiffeId, trustDomain: identity.trustDomain, tenantId: identity.tenantId, runtimeId: identity.runtimeId },
            maxConcurrentCalls: this.#maxConcurrency,
            deploymentEnvironment: options.deploymentEnvironment ?? "",
            metadata: options.metadata ?? {},
            securityRequirements: { requiresEncryption: true, requiresMtls: true, minTlsVersion: "1.3" },
          },
        },
      }),
    });
    this.#connection = connection;
    void connection.ended.then((end) => this.#onEnded(connection, end));
    return connection;
  }

  #onAccepted(acceptance: RuntimeAcceptance): void {
    this.#acceptance = acceptance;
    if (this.#state === "connecting" || this.#state === "reconnecting") this.#state = "connected";
    this.emit("connected", acceptance);
  }

  #onEnded(connection: RuntimeConnection, end: ConnectionEnd): void {
    // Streams that never got accepted are reported by start() or by the reconnect loop.
    if (this.#connection !== connection || !end.accepted) return;
    const stopping = this.#state === "closed" || this.#state === "draining";
    const willReconnect = this.#reconnect !== null && !stopping && end.reason !== "closed" && end.reason !== "drained" && end.reason !== "rejected";
    this.emit("disconnect", { reason: end.reason, error: end.error, willReconnect });
    if (willReconnect) void this.#reconnectLoop(end.error);
    else if (!stopping) this.#finish();
  }

  async #reconnectLoop(lastError: AespError | undefined): Promise<void> {
    const backoff = this.#reconnect as Required<ReconnectOptions>;
    this.#state = "reconnecting";
    for (let attempt = 1; ; attempt++) {
      const ceiling = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * 2 ** Math.min(attempt - 1, 30));
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      this.emit("reconnecting", { attempt, delayMs, lastError });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, delayMs);
        function wake(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wakeReconnect = wake;
      });
      this.#wakeReconnect = null;
      if (this.#state !== "reconnecting") return;
      const connection = this.#open();
      try {
        this.#onAccepted(await connection.accepted);
        return;
      } catch (err) {
        lastError = toAespError(err);
        const end = await connection.ended;
        if (end.reason === "rejected") {
          this.emit("disconnect", { reason: "rejected", error: lastError, willReconnect: false });
          this.#finish();
          return;
        }
        if (this.#state !== "reconnecting") return;
      }
    }
  }

  #finish(): void {
    this.#state = "closed";
    this.#closed.resolve();
  }
}

function invalidOption(field: string, message: string): AespError {
  return new AespError({ code: "INVALID_ARGUMENT", message, details: { field }, remediation: ["Fix the runtime options; see docs/guides/runtime-sdk.md."] });
}
