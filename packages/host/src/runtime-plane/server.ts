import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createContextKey, createContextValues } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import { HostMessageSchema, RuntimeService } from "@aesp/proto/runtime";
import type { HostMessage, RuntimeMessage } from "@aesp/proto/runtime";
import { EnterpriseError, toEnterpriseError } from "@aesp/core";
import type { AuditRecorder, Clock, IdSource, RequestOrigin, RuntimeAdmission, RuntimeDirectory } from "@aesp/core";
import { checkPeerCertificate, runtimePlaneTlsOptions } from "../pki/runtime-plane-tls.ts";
import type { PeerRuntimeIdentity } from "../pki/runtime-plane-tls.ts";
import { toEnterpriseErrorMessage } from "../gateway/errors.ts";
import type { HostMetrics } from "../observability/metrics.ts";
import { RuntimeProtocolViolation, RuntimeStreamConnection } from "./connection.ts";

/** Runtime plane settings, from the `runtime_plane` config section. */
export interface RuntimePlaneOptions {
  readonly host: string;
  readonly port: number;
  readonly trustDomain: string;
  readonly caCertificatePem: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly heartbeatIntervalMs: number;
  readonly maxInFlightPerRuntime: number;
  readonly maxMessageBytes: number;
  /** How long a runtime may take to announce itself after connecting. */
  readonly announceTimeoutMs: number;
}

/** A listening runtime plane. */
export interface RuntimePlane {
  readonly url: string;
  /** Certificate serials revoked while this Host runs (checked on every handshake). */
  revoke(tenantId: string, serial: string): void;
  connections(): RuntimeStreamConnection[];
  /** Asks every runtime to drain, waits up to `graceMs`, then closes. */
  close(graceMs: number): Promise<void>;
}

const socketKey = createContextKey<TLSSocket | null>(null, { description: "runtime TLS socket" });
const maxProtocolViolations = 16;

/**
 * The runtime plane: HTTP/2 over TLS 1.3 only, client certificate required and
 * checked against the Host's CA and revocations; one bidirectional
 * `RuntimeService.Connect` stream per runtime.
 *
 * Rules enforced:
 * - TLS 1.2 or a missing or foreign certificate fails the handshake;
 * - the certificate's SPIFFE identity must match the announcement (runtime and tenant);
 * - only admitted contracts are routed to the connection;
 * - garbage from a runtime gets an EnterpriseError message, and repeated violations close it;
 * - a disconnect fails the runtime's in-flight calls with UNAVAILABLE.
 */
export async function startRuntimePlane(
  deps: { clock: Clock; ids: IdSource; admission: RuntimeAdmission; directory: RuntimeDirectory; audit: AuditRecorder; logger: Logger; metrics: HostMetrics },
  options: RuntimePlaneOptions,
): Promise<RuntimePlane> {
  const revoked = new Set<string>();
  const live = new Set<RuntimeStreamConnection>();

  async function* connect(requests: AsyncIterable<RuntimeMessage>, ctx: HandlerContext): AsyncIterable<HostMessage> {
    const socket = ctx.values.get(socketKey);
    const origin: RequestOrigin = { sourceIp: socket?.remoteAddress ?? "", userAgent: ctx.requestHeader.get("user-agent") ?? "", correlationId: deps.ids.newId("cor") };
    const iterator = requests[Symbol.asyncIterator]();
    let peer: PeerRuntimeIdentity;
    let connection: RuntimeStreamConnection;
    try {
      if (socket === null) throw new EnterpriseError("CERTIFICATE_INVALID");
      peer = checkPeerCertificate(socket, (serial) => revoked.has(serial), { trustDomain: options.trustDomain, now: deps.clock.now() });
      const first = await withTimeout(iterator.next(), options.announceTimeoutMs);
      if (first === null || first.done === true || first.value.kind.case !== "announcement") {
        throw new EnterpriseError("RUNTIME_REJECTED", { details: { reason: "first_message_must_be_announcement" } });
      }
      const announcement = first.value.kind.value;
      const admission = await deps.admission.admit(
        peer,
        {
          runtimeId: announcement.runtimeId,
          tenantId: announcement.tenantId,
          spiffeId: announcement.certificateIdentity?.spiffeId ?? "",
          declaredContracts: announcement.declaredContracts,
        },
        origin,
      );
      const maxInFlight = Math.min(options.maxInFlightPerRuntime, announcement.maxConcurrentCalls === 0 ? options.maxInFlightPerRuntime : announcement.maxConcurrentCalls);
      connection = new RuntimeStreamConnection(
        {
          connectionId: deps.ids.newId("rtc"),
          runtimeId: peer.runtimeId,
          tenantId: peer.tenantId,
          serial: peer.serial,
          language: announcement.language.slice(0, 64),
          version: announcement.version.slice(0, 64),
          contracts: new Set(admission.accepted),
          heartbeatIntervalMs: options.heartbeatIntervalMs,
          maxInFlight,
        },
        deps.clock,
      );
      yield create(HostMessageSchema, {
        kind: {
          case: "accepted",
          value: { runtimeId: peer.runtimeId, acceptedContracts: [...admission.accepted], heartbeatIntervalMs: options.heartbeatIntervalMs, maxInFlight },
        },
      });
    } catch (err) {
      const error = toEnterpriseError(err, origin.correlationId);
      deps.metrics.runtimeRejections.inc({ reason: error.details["reason"] ?? error.code });
      deps.logger.warn({ code: error.code, reason: error.details["reason"], sourceIp: origin.sourceIp }, "runtime refused");
      // Per-contract reasons travel in details as `name@version:reason,…`.
      const rejections = (error.details["rejected"] ?? "")
        .split(",")
        .filter((entry) => entry.includes(":"))
        .map((entry) => ({ contract: entry.slice(0, entry.lastIndexOf(":")), reason: entry.slice(entry.lastIndexOf(":") + 1) }));
      yield create(HostMessageSchema, { kind: { case: "rejected", value: { error: toEnterpriseErrorMessage(error), rejections } } });
      return;
    }

    live.add(connection);
    deps.directory.add(connection);
    deps.metrics.runtimesConnected.inc();
    deps.logger.info({ runtimeId: connection.runtimeId, tenantId: connection.tenantId, contracts: [...connection.contracts] }, "runtime admitted");
    const reading = readLoop(iterator, connection).catch((err: unknown) => {
      deps.logger.debug({ err, runtimeId: connection.runtimeId }, "runtime stream read ended");
    });
    try {
      yield* connection.outbound;
    } finally {
      connection.close("runtime_disconnected");
      deps.directory.remove(connection);
      live.delete(connection);
      deps.metrics.runtimesConnected.dec();
      // The read side ends when the runtime closes its half; waiting for it here would keep a
      // revoked or shut-down stream open.
      void reading;
      await deps.audit
        .record({
          eventType: "runtime.disconnected",
          tenantId: connection.tenantId,
          principalId: `runtime:${connection.runtimeId}`,
          resource: `runtime:${connection.runtimeId}`,
          action: "disconnect",
          outcome: "SUCCESS",
          origin,
          metadata: { connection_id: connection.connectionId },
        })
        .catch((err: unknown) => deps.logger.error({ err }, "could not audit runtime disconnect"));
      deps.logger.info({ runtimeId: connection.runtimeId }, "runtime disconnected");
    }

    async function readLoop(messages: AsyncIterator<RuntimeMessage>, conn: RuntimeStreamConnection): Promise<void> {
      let violations = 0;
      try {
        for (;;) {
          const next = await messages.next();
          if (next.done === true) break;
          const kind = next.value.kind;
          try {
            switch (kind.case) {
              case "result":
                conn.handleResult(kind.value);
                break;
              case "chunk":
                conn.handleChunk(kind.value);
                break;
              case "heartbeat":
                conn.lastHeartbeat = deps.clock.now();
                break;
              case "drain":
                conn.startDrain();
                deps.directory.remove(conn);
                break;
              case "cancelAck":
                break;
              case "announcement":
                throw new RuntimeProtocolViolation("duplicate_announcement");
              case undefined:
                throw new RuntimeProtocolViolation("empty_message");
            }
          } catch (err) {
            if (!(err instanceof RuntimeProtocolViolation)) throw err;
            violations++;
            const error = new EnterpriseError("INVALID_ARGUMENT", { message: "Protocol violation by the runtime.", details: { reason: err.message } });
            conn.outbound.push(create(HostMessageSchema, { kind: { case: "error", value: toEnterpriseErrorMessage(error) } }));
            await deps.audit.record({
              eventType: "runtime.protocol_violation",
              tenantId: conn.tenantId,
              principalId: `runtime:${conn.runtimeId}`,
              resource: `runtime:${conn.runtimeId}`,
              action: "message",
              outcome: "DENIED",
              origin,
              riskScore: "MEDIUM",
              metadata: { reason: err.message },
            });
            if (violations >= maxProtocolViolations) break;
          }
        }
      } finally {
        conn.close("runtime_disconnected");
      }
    }
  }

  // Liveness both ways: the Host sends heartbeats, and drops a runtime that missed three of its own.
  const heartbeatTimer = setInterval(() => {
    const now = deps.clock.now();
    for (const connection of live) {
      if (now - connection.lastHeartbeat >= options.heartbeatIntervalMs * 3) {
        deps.logger.warn({ runtimeId: connection.runtimeId }, "runtime missed its heartbeats; closing its stream");
        connection.close("heartbeat_timeout");
        continue;
      }
      connection.outbound.push(create(HostMessageSchema, { kind: { case: "heartbeat", value: { sentAtUnixMs: BigInt(now), inFlight: connection.inFlight } } }));
    }
  }, options.heartbeatIntervalMs);
  heartbeatTimer.unref();

  const handler = connectNodeAdapter({
    routes: (router) => router.service(RuntimeService, { connect }),
    grpc: true,
    grpcWeb: false,
    connect: false,
    readMaxBytes: options.maxMessageBytes,
    contextValues: (req) => createContextValues().set(socketKey, req.socket as TLSSocket),
  });

  const server = http2.createSecureServer(
    { ...runtimePlaneTlsOptions({ ca: options.caCertificatePem, serverCert: options.certificatePem, serverKey: options.privateKeyPem }), settings: { maxConcurrentStreams: 1000 } },
    handler,
  );
  server.on("tlsClientError", (err: Error) => deps.logger.debug({ err: err.message }, "runtime plane TLS handshake refused"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  deps.logger.info({ port }, "runtime plane listening (mTLS, TLS 1.3 only)");

  return {
    url: `https://${options.host}:${port}`,
    revoke(_tenantId, serial) {
      revoked.add(serial);
      for (const connection of live) if (connection.facts.serial === serial) connection.close("certificate_revoked");
    },
    connections: () => [...live],
    async close(graceMs) {
      clearInterval(heartbeatTimer);
      for (const connection of live) {
        connection.startDrain();
        deps.directory.remove(connection);
        connection.outbound.push(create(HostMessageSchema, { kind: { case: "drain", value: { gracePeriodMs: graceMs, reason: "host_shutdown" } } }));
      }
      await Promise.all([...live].map((c) => c.drained(graceMs)));
      for (const connection of live) connection.close("host_shutdown");
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Sessions kept open by idle clients would hold close() forever.
        setTimeout(resolve, 2000).unref();
      });
    },
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
