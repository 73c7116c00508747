import type { Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics of one Host, on its own registry. Labels never carry
 * identifiers of principals or secrets: only service, method, code, outcome.
 */
export class HostMetrics {
  readonly registry = new Registry();
  readonly rpcTotal = new Counter({ name: "aesp_rpc_total", help: "RPCs handled, by service, method and code.", labelNames: ["service", "method", "code"], registers: [this.registry] });
  readonly rpcSeconds = new Histogram({
    name: "aesp_rpc_duration_seconds",
    help: "RPC latency.",
    labelNames: ["service", "method"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly runtimesConnected = new Gauge({ name: "aesp_runtime_connections", help: "Runtime connections admitted and live.", registers: [this.registry] });
  readonly runtimeRejections = new Counter({ name: "aesp_runtime_rejections_total", help: "Runtime connections refused.", labelNames: ["reason"], registers: [this.registry] });
  readonly auditRecords = new Counter({ name: "aesp_audit_records_total", help: "Audit records made durable.", registers: [this.registry] });
  readonly auditFailures = new Counter({ name: "aesp_audit_failures_total", help: "Audit appends that failed (callers were refused).", registers: [this.registry] });
  readonly siemForwarded = new Counter({ name: "aesp_siem_forwarded_total", help: "Audit records a SIEM destination accepted.", labelNames: ["destination"], registers: [this.registry] });
  readonly siemFailed = new Counter({ name: "aesp_siem_failed_attempts_total", help: "SIEM delivery attempts that failed (each retry counts).", labelNames: ["destination"], registers: [this.registry] });
  readonly siemDeadLettered = new Counter({ name: "aesp_siem_dead_lettered_total", help: "Audit records written to the dead-letter store.", labelNames: ["destination"], registers: [this.registry] });
  readonly siemQueueDepth = new Gauge({ name: "aesp_siem_queue_depth", help: "Audit records waiting for a SIEM destination (buffered and in flight).", labelNames: ["destination"], registers: [this.registry] });
  readonly alertsDelivered = new Counter({ name: "aesp_alerts_delivered_total", help: "Alerts a connector delivered.", labelNames: ["connector"], registers: [this.registry] });
  readonly alertsFailed = new Counter({ name: "aesp_alerts_failed_total", help: "Alerts a connector could not deliver after every retry.", labelNames: ["connector"], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "aesp_process_" });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Counts and times every RPC by its final code. */
  rpcInterceptor(): Interceptor {
    return (next) => async (req) => {
      const labels = { service: req.service.typeName, method: req.method.name };
      const stop = this.rpcSeconds.startTimer(labels);
      try {
        const res = await next(req);
        this.rpcTotal.inc({ ...labels, code: "ok" });
        return res;
      } catch (err) {
        this.rpcTotal.inc({ ...labels, code: err instanceof ConnectError ? String(err.code) : "unknown" });
        throw err;
      } finally {
        stop();
      }
    };
  }
}
