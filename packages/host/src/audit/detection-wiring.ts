/**
 * Runs the core's detection rules on every batch the audit log commits. A fired rule raises an
 * alert (delivered in the background by the dispatcher) and records an `alert.raised` event, which
 * the detector ignores, so an alert cannot feed itself.
 */
import type { AlertNotifier, Clock } from "@aesp/core";
import type { AuditLog, Detection, Detector } from "@aesp/core/audit";
import type { Logger } from "pino";

/**
 * Subscribes `detector` to the log's committed batches.
 *
 * @returns Unsubscribe.
 */
export function attachDetection(log: AuditLog, detector: Detector, deps: { alerts: AlertNotifier; clock: Clock; logger: Logger }): () => void {
  return log.onCommitted((records) => {
    for (const record of records) {
      for (const hit of detector.observe(record)) raise(log, hit, deps);
    }
  });
}

function raise(log: AuditLog, hit: Detection, deps: { alerts: AlertNotifier; clock: Clock; logger: Logger }): void {
  const detail: Record<string, string> = {
    rule: hit.rule,
    trigger_event_id: hit.trigger.eventId,
    trigger_event_type: hit.trigger.eventType,
    trigger_seq: String(hit.trigger.seq),
  };
  if (hit.windowMs > 0) {
    detail["count"] = String(hit.count);
    detail["window_seconds"] = String(Math.round(hit.windowMs / 1000));
  }
  deps.alerts.raise({ kind: `detection.${hit.rule}`, severity: hit.severity, tenantId: hit.tenantId, principalId: hit.principalId, title: hit.title, detail, raisedAt: deps.clock.now() });
  const metadata: Record<string, string> = {
    rule: hit.rule,
    alert_severity: hit.severity,
    trigger_event_id: hit.trigger.eventId,
    trigger_event_type: hit.trigger.eventType,
    ...(hit.windowMs > 0 ? { count: String(hit.count), window_seconds: String(Math.round(hit.windowMs / 1000)) } : {}),
  };
  log
    .record({ eventType: "alert.raised", tenantId: hit.tenantId, principalId: hit.principalId, resource: `rule:${hit.rule}`, action: "alert", metadata })
    .catch((err: unknown) => deps.logger.error({ err, rule: hit.rule }, "alert.raised could not be recorded; the alert itself was sent"));
}
