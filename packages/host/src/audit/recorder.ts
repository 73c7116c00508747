import { EnterpriseError } from "@aesp/core";
import type { AuditInput, AuditRecorder } from "@aesp/core";
import { isAuditEventType } from "@aesp/core/audit";
import type { AuditLog } from "@aesp/core/audit";
import type { HostMetrics } from "../observability/metrics.ts";

/**
 * Adapts the core's {@link AuditRecorder} port to the audit log. An event type
 * missing from the catalogue is a programming error and fails loudly; a log that
 * cannot record yields AUDIT_UNAVAILABLE so the caller refuses its operation.
 */
export function auditRecorder(log: AuditLog, metrics: HostMetrics): AuditRecorder {
  return {
    async record(input: AuditInput): Promise<void> {
      if (!isAuditEventType(input.eventType)) {
        throw new EnterpriseError("INTERNAL_ERROR", { cause: new Error(`audit event type not in catalogue: ${input.eventType}`) });
      }
      try {
        await log.record({
          eventType: input.eventType,
          outcome: input.outcome,
          tenantId: input.tenantId,
          principalId: input.principalId ?? "",
          sessionId: input.sessionId ?? "",
          resource: input.resource ?? "",
          action: input.action ?? "",
          sourceIp: input.origin?.sourceIp ?? "",
          userAgent: input.origin?.userAgent ?? "",
          correlationId: input.origin?.correlationId ?? "",
          riskScore: input.riskScore ?? "",
          policyViolations: input.policyViolations ?? [],
          metadata: input.metadata ?? {},
        });
        metrics.auditRecords.inc();
      } catch (err) {
        metrics.auditFailures.inc();
        if (err instanceof EnterpriseError) throw err;
        throw new EnterpriseError("AUDIT_UNAVAILABLE", { cause: err });
      }
    },
  };
}
