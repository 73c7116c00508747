/**
 * Compliance evidence drawn from the audit log: each framework's controls map to evidence
 * categories, each category to event types (by prefix and catalogue severity), and each evidence
 * item names the event (id, seq) so an auditor can fetch and verify its inclusion proof.
 *
 * Rules:
 * - An event is classified only by its type, outcome and catalogue severity: the same log gives
 *   the same report on every Host.
 * - Counts are complete; evidence lists are capped (`evidenceLimit`), oldest first.
 * - A control is SATISFIED only when the log verifies and its evidence shows the control working;
 *   INSUFFICIENT_EVIDENCE when the period holds no event of its categories; NOT_SATISFIED with a
 *   finding when the log shows a breach of the control (unverifiable log, unreviewed break-glass).
 */
import type { AuditRecord } from "../records.ts";
import { auditEventCatalogue, isAuditEventType } from "./events.ts";

/** The frameworks GetComplianceReport covers. */
export type ComplianceFramework = "SOC2" | "ISO27001" | "GDPR" | "HIPAA" | "PCI_DSS";

export const COMPLIANCE_FRAMEWORKS: readonly ComplianceFramework[] = ["SOC2", "ISO27001", "GDPR", "HIPAA", "PCI_DSS"];

/** Evidence categories. `verification` is not drawn from events but from checking the log. */
export type EvidenceCategory =
  | "access_denials"
  | "privileged_actions"
  | "approvals"
  | "policy_config_changes"
  | "break_glass"
  | "security_events"
  | "verification";

export const EVIDENCE_CATEGORIES: readonly Exclude<EvidenceCategory, "verification">[] = [
  "access_denials",
  "privileged_actions",
  "approvals",
  "policy_config_changes",
  "break_glass",
  "security_events",
];

/** One control of a framework. */
export interface ComplianceControlSpec {
  readonly id: string;
  readonly description: string;
  readonly categories: readonly EvidenceCategory[];
}

/** Which controls each framework has and what evidence each draws on. */
export const COMPLIANCE_CONTROLS: Readonly<Record<ComplianceFramework, readonly ComplianceControlSpec[]>> = {
  SOC2: [
    { id: "CC6.1", description: "Logical access is restricted: unauthorised requests are refused.", categories: ["access_denials"] },
    { id: "CC6.3", description: "Roles and privileges are granted, changed and removed under control.", categories: ["privileged_actions", "approvals"] },
    { id: "CC7.2", description: "Security events and anomalies are monitored.", categories: ["security_events", "break_glass"] },
    { id: "CC8.1", description: "Changes to policies, contracts and configuration are authorised and approved.", categories: ["policy_config_changes", "approvals"] },
    { id: "CC4.1", description: "The audit trail is complete and unaltered (verified against a signed checkpoint).", categories: ["verification"] },
  ],
  ISO27001: [
    { id: "A.5.15", description: "Access control: access is granted by rule and refused otherwise.", categories: ["access_denials"] },
    { id: "A.8.2", description: "Privileged access rights are restricted and managed.", categories: ["privileged_actions", "break_glass"] },
    { id: "A.8.32", description: "Change management: changes are requested, approved and recorded.", categories: ["policy_config_changes", "approvals"] },
    { id: "A.8.16", description: "Monitoring activities: security events are detected.", categories: ["security_events"] },
    { id: "A.8.15", description: "Logging: logs are protected against tampering (verified).", categories: ["verification"] },
  ],
  GDPR: [
    { id: "Art.32(1)(b)", description: "Confidentiality of processing systems: unauthorised access is refused.", categories: ["access_denials", "security_events"] },
    { id: "Art.25", description: "Data protection by design: privileged actions and emergency access are controlled.", categories: ["privileged_actions", "break_glass"] },
    { id: "Art.5(2)", description: "Accountability: changes are approved by someone other than the requester.", categories: ["policy_config_changes", "approvals"] },
    { id: "Art.30", description: "Records of processing are kept intact (the log verifies).", categories: ["verification"] },
  ],
  HIPAA: [
    { id: "164.312(a)(1)", description: "Access control: only authorised persons and software get access.", categories: ["access_denials", "privileged_actions"] },
    { id: "164.312(a)(2)(ii)", description: "Emergency access procedure: break-glass use is justified, time-limited and reviewed.", categories: ["break_glass"] },
    { id: "164.308(a)(1)(ii)(D)", description: "Information system activity review: security events are recorded for review.", categories: ["security_events", "approvals"] },
    { id: "164.312(b)", description: "Audit controls: activity is recorded and the record verifies.", categories: ["verification"] },
    { id: "164.312(c)(1)", description: "Integrity: policy and configuration changes are recorded and approved.", categories: ["policy_config_changes"] },
  ],
  PCI_DSS: [
    { id: "10.2.1.4", description: "Invalid logical access attempts are logged.", categories: ["access_denials"] },
    { id: "10.2.1.2", description: "Actions by individuals with administrative access are logged.", categories: ["privileged_actions", "break_glass"] },
    { id: "6.5.1", description: "Changes to system components follow change control (approved).", categories: ["policy_config_changes", "approvals"] },
    { id: "10.3.4", description: "Audit logs are protected by change detection (the log verifies).", categories: ["verification"] },
    { id: "10.4.1", description: "Security events are reviewed.", categories: ["security_events"] },
  ],
};

const PRIVILEGED = /^(role\.|principal\.roles_updated$|service_account\.|api_key\.(created|revoked)$|signing_key\.|identity_provider\.|tenant\.|config\.|certificate\.revoked$|runtime\.(join_token_created|enrolled)$|scim_group\.|break_glass\.activated$)/;
const POLICY_CONFIG = /^(policy\.(submitted|activated|rejected|retired|deletion_requested|rollout_started|rollout_promoted|rollout_stopped|rollout_rolled_back)$|config\.changed$|contract\.(submitted|activated|rejected|deprecated|retired)$)/;
const APPROVALS = /^(approval\.|tool_call\.approval_(requested|used)$|contract\.approval_requested$)/;

/**
 * The evidence categories an event falls into (possibly several, possibly none).
 *
 * @param event - Type, outcome (and so catalogue severity) are read.
 */
export function evidenceCategories(event: Pick<AuditRecord, "eventType" | "outcome">): Exclude<EvidenceCategory, "verification">[] {
  const type = event.eventType;
  const out: Exclude<EvidenceCategory, "verification">[] = [];
  if (event.outcome === "DENIED") out.push("access_denials");
  if (PRIVILEGED.test(type)) out.push("privileged_actions");
  if (APPROVALS.test(type)) out.push("approvals");
  if (POLICY_CONFIG.test(type)) out.push("policy_config_changes");
  if (type.startsWith("break_glass.")) out.push("break_glass");
  if (isAuditEventType(type) && auditEventCatalogue[type].severity === "security") out.push("security_events");
  return out;
}

/** One evidence item. */
export interface ComplianceEvidenceItem {
  eventId: string;
  seq: number;
  eventType: string;
  timestampMs: number;
  outcome: string;
  principalId: string;
  category: EvidenceCategory;
}

/** A control as reported. */
export interface ComplianceControlResult {
  id: string;
  description: string;
  status: "SATISFIED" | "NOT_SATISFIED" | "INSUFFICIENT_EVIDENCE" | "NOT_APPLICABLE";
  categories: EvidenceCategory[];
  evidenceCount: number;
  findings: string[];
  evidence: ComplianceEvidenceItem[];
}

/** The log check the report relies on. */
export interface ComplianceVerificationResult {
  status: "VERIFIED" | "FAILED" | "NO_CHECKPOINT";
  treeSize: number;
  checkedEvents: number;
  detail: string;
}

/**
 * Accumulates a report over a stream of records (constant memory apart from capped evidence).
 */
export class ComplianceReportBuilder {
  readonly #framework: ComplianceFramework;
  readonly #limit: number;
  readonly #counts = new Map<string, number>();
  readonly #categoryCounts = new Map<EvidenceCategory, number>();
  readonly #evidence = new Map<EvidenceCategory, ComplianceEvidenceItem[]>();
  readonly #activations = new Map<string, string>();
  readonly #reviewed = new Set<string>();
  #overdue = 0;
  #selfApprovalBlocked = 0;
  #selfReviewBlocked = 0;

  /**
   * @param framework - The framework reported on.
   * @param evidenceLimit - Evidence items kept per control.
   */
  constructor(framework: ComplianceFramework, evidenceLimit: number) {
    this.#framework = framework;
    this.#limit = evidenceLimit;
  }

  /** Counts one event of the period. */
  add(record: AuditRecord): void {
    this.#counts.set(record.eventType, (this.#counts.get(record.eventType) ?? 0) + 1);
    for (const category of evidenceCategories(record)) {
      this.#categoryCounts.set(category, (this.#categoryCounts.get(category) ?? 0) + 1);
      const list = this.#evidence.get(category) ?? [];
      if (list.length < this.#limit) {
        list.push({
          eventId: record.eventId,
          seq: record.seq,
          eventType: record.eventType,
          timestampMs: record.timestampMs,
          outcome: record.outcome,
          principalId: record.principalId,
          category,
        });
        this.#evidence.set(category, list);
      }
    }
    if (record.eventType === "break_glass.activated") this.#activations.set(record.resource, record.eventId);
    if (record.eventType === "break_glass.reviewed") this.#reviewed.add(record.resource);
    if (record.eventType === "break_glass.review_overdue") this.#overdue++;
    if (record.eventType === "approval.self_approval_blocked") this.#selfApprovalBlocked++;
    if (record.eventType === "break_glass.self_review_blocked") this.#selfReviewBlocked++;
  }

  /** Every evidence item kept, for leaf re-hashing. */
  evidenceEventIds(): Set<string> {
    const ids = new Set<string>();
    for (const list of this.#evidence.values()) for (const item of list) ids.add(item.eventId);
    return ids;
  }

  /** Events by type. */
  get eventCounts(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Events by category. */
  get categoryCounts(): Record<string, number> {
    return Object.fromEntries(EVIDENCE_CATEGORIES.map((category) => [category, this.#categoryCounts.get(category) ?? 0]));
  }

  /**
   * The controls, given how the log verified.
   *
   * @param verification - The log check.
   */
  controls(verification: ComplianceVerificationResult): ComplianceControlResult[] {
    return COMPLIANCE_CONTROLS[this.#framework].map((spec) => {
      const findings: string[] = [];
      if (spec.categories.includes("verification")) {
        const ok = verification.status === "VERIFIED";
        findings.push(
          ok
            ? `The log verifies up to the signed checkpoint of ${verification.treeSize} events (${verification.checkedEvents} evidence events re-hashed).`
            : `The log does not verify: ${verification.detail}`,
        );
        return { id: spec.id, description: spec.description, status: ok ? "SATISFIED" : "NOT_SATISFIED", categories: [...spec.categories], evidenceCount: ok ? 1 : 0, findings, evidence: [] };
      }
      let count = 0;
      const evidence: ComplianceEvidenceItem[] = [];
      for (const category of spec.categories) {
        count += this.#categoryCounts.get(category) ?? 0;
        evidence.push(...(this.#evidence.get(category) ?? []));
      }
      evidence.sort((a, b) => a.seq - b.seq);
      let status: ComplianceControlResult["status"] = count > 0 ? "SATISFIED" : "INSUFFICIENT_EVIDENCE";
      if (spec.categories.includes("access_denials")) findings.push(`${this.#categoryCounts.get("access_denials") ?? 0} access attempt(s) refused.`);
      if (spec.categories.includes("approvals") && this.#selfApprovalBlocked > 0) findings.push(`${this.#selfApprovalBlocked} self-approval attempt(s) blocked (requester ≠ approver enforced).`);
      if (spec.categories.includes("break_glass")) {
        const unreviewed = [...this.#activations.keys()].filter((grant) => !this.#reviewed.has(grant));
        if (this.#activations.size === 0) findings.push("No break-glass activation in the period.");
        else findings.push(`${this.#activations.size} break-glass activation(s), ${this.#activations.size - unreviewed.length} reviewed.`);
        if (this.#selfReviewBlocked > 0) findings.push(`${this.#selfReviewBlocked} self-review attempt(s) blocked.`);
        if (this.#overdue > 0 || unreviewed.length > 0) {
          for (const grant of unreviewed) findings.push(`Break-glass grant ${grant} (event ${this.#activations.get(grant) ?? ""}) has not been reviewed.`);
          if (this.#overdue > 0) findings.push(`${this.#overdue} break-glass review(s) went overdue.`);
          status = "NOT_SATISFIED";
        }
      }
      if (verification.status !== "VERIFIED" && status === "SATISFIED") {
        status = "NOT_SATISFIED";
        findings.push("The evidence cannot be relied on: the log does not verify.");
      }
      return { id: spec.id, description: spec.description, status, categories: [...spec.categories], evidenceCount: count, findings, evidence: evidence.slice(0, this.#limit) };
    });
  }
}

/**
 * Parses a framework name as users type it (`soc2`, `iso27001`, `pci-dss`, …).
 *
 * @returns The framework, or null when unknown.
 */
export function parseComplianceFramework(name: string): ComplianceFramework | null {
  const normal = name.toUpperCase().replace(/[\s-]/g, "_").replace(/^SOC_?2$/, "SOC2").replace(/^ISO_?27001$/, "ISO27001").replace(/^PCI_?DSS$/, "PCI_DSS").replace(/^PCI$/, "PCI_DSS");
  return (COMPLIANCE_FRAMEWORKS as readonly string[]).includes(normal) ? (normal as ComplianceFramework) : null;
}
