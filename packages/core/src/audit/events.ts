/**
 * The one audit-event catalogue of the AESP Host.
 *
 * Every event the Host records is listed here: its type (`noun.verb`, past
 * tense), a stable code (`<AREA><number><severity letter>`: I info, W warning,
 * S security), its severity, its usual outcome, what `resource` names and which
 * metadata keys it carries. Code that records an event names a type from this
 * table (the compiler refuses others); `docs/reference/audit-events.md` is
 * rendered from it by {@link renderAuditEventReference}. Codes never change
 * meaning once released; retired events keep their code reserved.
 *
 * Severity: `info` is normal operation; `warning` is a refusal or failure that
 * happens in normal operation but deserves attention in aggregate; `security`
 * is a suspected attack or an integrity breach that should page someone.
 *
 * Metadata keys never match the redaction pattern of `redactMetadata`
 * (no `token`, `secret`, `password`, `apiKey`, `cookie`, `authorization`), so
 * they survive redaction; a unit test holds that line.
 */
import type { AuditOutcome } from "../records.ts";

/** How urgently an event deserves attention. */
export type AuditSeverity = "info" | "warning" | "security";

/** One catalogue entry. */
export interface AuditEventSpec {
  /** Stable code, e.g. `SES100I`. */
  readonly code: string;
  readonly severity: AuditSeverity;
  /** The outcome this event is recorded with. */
  readonly outcome: AuditOutcome;
  readonly description: string;
  /** What the event's `resource` field holds. */
  readonly resource: string;
  /** Metadata keys the event carries, each with its meaning. */
  readonly metadata: Readonly<Record<string, string>>;
}

export const auditEventCatalogue = {
  // ------------------------------------------------------------ identity
  "authn.succeeded": {
    code: "ATN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A principal authenticated.",
    resource: "The principal id.",
    metadata: { method: "api_key, oidc, saml, ldap, jwt or mtls.", credentialId: "Id of the API key or certificate serial used, when there is one." },
  },
  "authn.failed": {
    code: "ATN101W",
    severity: "warning",
    outcome: "FAILURE",
    description: "An authentication attempt failed (bad, expired or revoked credential).",
    resource: "The claimed principal id, when one was given.",
    metadata: { method: "The authentication method attempted.", reason: "Why it failed, without the credential." },
  },
  "bootstrap.redeemed": {
    code: "BOT100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "The one-time bootstrap credential was redeemed and the first administrator created.",
    resource: "The new administrator's principal id.",
    metadata: { tenantCreated: "The tenant created for the administrator." },
  },
  "principal.created": {
    code: "PRN099I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A user principal was created (e.g. a new tenant's first administrator).",
    resource: "The principal id.",
    metadata: { roles: "Comma-separated roles granted." },
  },
  "service_account.created": {
    code: "SVA100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A service account was created.",
    resource: "The service account's principal id.",
    metadata: { roles: "Comma-separated roles granted." },
  },
  "service_account.revoked": {
    code: "SVA101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A service account and its API keys were revoked.",
    resource: "The service account's principal id.",
    metadata: { keysRevoked: "Number of API keys revoked with it." },
  },
  "principal.roles_updated": {
    code: "PRN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A principal's roles or direct permissions changed.",
    resource: "The principal id.",
    metadata: { added: "Comma-separated roles added.", removed: "Comma-separated roles removed." },
  },
  "api_key.created": {
    code: "KEY100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An API key was issued to a principal (the secret is shown once and never recorded).",
    resource: "The key id.",
    metadata: { expiresAtMs: "Expiry, epoch ms, or empty when it never expires." },
  },
  "api_key.exchanged": {
    code: "KEY101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An API key was exchanged for a short-lived access token.",
    resource: "The key id.",
    metadata: { expiresAtMs: "Expiry of the issued access token, epoch ms." },
  },
  "api_key.revoked": {
    code: "KEY102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An API key was revoked.",
    resource: "The key id.",
    metadata: { reason: "Why it was revoked." },
  },

  // ------------------------------------------------------------ sessions
  "session.created": {
    code: "SES100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A session was created; its tenant is fixed for its lifetime.",
    resource: "The session id.",
    metadata: { expiresAtMs: "When the session expires, epoch ms." },
  },
  "session.destroyed": {
    code: "SES101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A session was ended by its owner or an administrator.",
    resource: "The session id.",
    metadata: { reason: "Who or what ended it." },
  },
  "session.expired": {
    code: "SES102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A session reached its expiry and was closed.",
    resource: "The session id.",
    metadata: { expiredAtMs: "When it expired, epoch ms." },
  },

  // ------------------------------------------------------------ authorization and policy
  "authz.allowed": {
    code: "AZN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "RBAC and policies allowed an action.",
    resource: "The contract or administrative resource acted on.",
    metadata: { permission: "The permission that was checked.", appliedPolicies: "Comma-separated ids of the policies that applied." },
  },
  "authz.denied": {
    code: "AZN101W",
    severity: "warning",
    outcome: "DENIED",
    description: "RBAC, clearance or a policy denied an action.",
    resource: "The contract or administrative resource acted on.",
    metadata: {
      reason: "roles, permissions, clearance or policy.",
      required: "The roles or permissions that were missing.",
      appliedPolicies: "Comma-separated ids of the denying policies.",
    },
  },
  "policy.audit_matched": {
    code: "POL100W",
    severity: "warning",
    outcome: "SUCCESS",
    description: "A policy with effect AUDIT matched a call; the call was allowed and flagged.",
    resource: "The contract called.",
    metadata: { policyIds: "Comma-separated ids of the matching AUDIT policies." },
  },
  "policy.submitted": {
    code: "POL101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A policy version was submitted for approval.",
    resource: "`policyId@version`.",
    metadata: { approvalRequestId: "The approval request opened for it." },
  },
  "policy.activated": {
    code: "POL102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approved policy version became ACTIVE.",
    resource: "`policyId@version`.",
    metadata: { approvalRequestId: "The approval that activated it.", approvedBy: "The approving principal." },
  },
  "policy.rejected": {
    code: "POL103I",
    severity: "info",
    outcome: "DENIED",
    description: "A submitted policy version was rejected (by an approver or because it does not compile).",
    resource: "`policyId@version`.",
    metadata: { reason: "Why it was rejected." },
  },
  "policy.retired": {
    code: "POL104I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A policy version stopped being effective.",
    resource: "`policyId@version`.",
    metadata: { replacedBy: "The version that replaced it, if any." },
  },

  // ------------------------------------------------------------ tool calls
  "tool_call.started": {
    code: "TCL100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An authorized call was dispatched to a runtime.",
    resource: "The contract name.",
    metadata: { contractVersion: "The ACTIVE contract version.", runtimeId: "The runtime chosen." },
  },
  "tool_call.completed": {
    code: "TCL101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A call returned a valid result to its caller.",
    resource: "The contract name.",
    metadata: { contractVersion: "The contract version.", runtimeId: "The runtime that served it.", durationMs: "Wall time.", cost: "Metered cost." },
  },
  "tool_call.failed": {
    code: "TCL102W",
    severity: "warning",
    outcome: "ERROR",
    description: "A call failed: the runtime reported an error, went away or missed the deadline.",
    resource: "The contract name.",
    metadata: { runtimeId: "The runtime, when one was chosen.", errorCode: "The EnterpriseError code returned.", durationMs: "Wall time." },
  },
  "tool_call.cancelled": {
    code: "TCL103I",
    severity: "info",
    outcome: "FAILURE",
    description: "The caller cancelled a call in flight.",
    resource: "The contract name.",
    metadata: { runtimeId: "The runtime serving it." },
  },
  "tool_call.arguments_rejected": {
    code: "TCL104W",
    severity: "warning",
    outcome: "FAILURE",
    description: "A call's arguments did not match the contract's parameter schema; nothing was dispatched.",
    resource: "The contract name.",
    metadata: { validationErrors: "JSON-pointer paths of the failing arguments, never their values." },
  },
  "tool_call.result_rejected": {
    code: "TCL105S",
    severity: "security",
    outcome: "ERROR",
    description: "A runtime returned a result that violates the contract's return type; it was withheld from the caller.",
    resource: "The contract name.",
    metadata: { runtimeId: "The runtime that returned it.", validationErrors: "JSON-pointer paths of the violations." },
  },

  // ------------------------------------------------------------ contracts
  "contract.submitted": {
    code: "CON100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A tool contract version was submitted as a DRAFT.",
    resource: "`name@version`.",
    metadata: { riskAssessment: "LOW, MEDIUM or HIGH.", classification: "The contract's security classification." },
  },
  "contract.approval_requested": {
    code: "CON101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A contract version moved to PENDING_APPROVAL.",
    resource: "`name@version`.",
    metadata: { approvalRequestId: "The approval request opened for it." },
  },
  "contract.activated": {
    code: "CON102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approved contract version became ACTIVE.",
    resource: "`name@version`.",
    metadata: { approvalRequestId: "The approval that activated it.", approvedBy: "The approving principal." },
  },
  "contract.rejected": {
    code: "CON103I",
    severity: "info",
    outcome: "DENIED",
    description: "A contract version was rejected by an approver.",
    resource: "`name@version`.",
    metadata: { reason: "The approver's comment." },
  },
  "contract.deprecated": {
    code: "CON104I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A contract version was DEPRECATED: still callable, flagged for replacement.",
    resource: "`name@version`.",
    metadata: { replacedBy: "The version that replaces it, if any." },
  },
  "contract.retired": {
    code: "CON105I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A contract version was RETIRED: calls to it are refused.",
    resource: "`name@version`.",
    metadata: { reason: "Why it was retired." },
  },

  // ------------------------------------------------------------ approvals
  "approval.requested": {
    code: "APR100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approval request was opened for a governed change.",
    resource: "The approval request id.",
    metadata: { artifactType: "TOOL_CONTRACT or POLICY.", artifactId: "The artifact to approve.", requiredApprovers: "Comma-separated approver roles or principals." },
  },
  "approval.granted": {
    code: "APR101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approver granted an approval request.",
    resource: "The approval request id.",
    metadata: { artifactType: "TOOL_CONTRACT or POLICY.", artifactId: "The approved artifact.", requesterId: "Who asked for it." },
  },
  "approval.denied": {
    code: "APR102I",
    severity: "info",
    outcome: "DENIED",
    description: "An approver denied an approval request.",
    resource: "The approval request id.",
    metadata: { artifactType: "TOOL_CONTRACT or POLICY.", artifactId: "The denied artifact.", requesterId: "Who asked for it." },
  },
  "approval.expired": {
    code: "APR103I",
    severity: "info",
    outcome: "FAILURE",
    description: "An approval request expired undecided.",
    resource: "The approval request id.",
    metadata: { artifactId: "The artifact left unapproved." },
  },
  "approval.self_approval_blocked": {
    code: "APR104S",
    severity: "security",
    outcome: "DENIED",
    description: "A principal tried to adjudicate their own approval request; refused (requester ≠ approver).",
    resource: "The approval request id.",
    metadata: { artifactId: "The artifact concerned." },
  },

  // ------------------------------------------------------------ runtimes
  "runtime.join_token_created": {
    code: "RUN110I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A one-time join token was created for a runtime (the token itself is never recorded).",
    resource: "The runtime id.",
    metadata: { token_id: "The token's id.", allowed_contracts: "Contract names the runtime may be admitted for.", expires_at: "Expiry, epoch ms." },
  },
  "runtime.protocol_violation": {
    code: "RUN410S",
    severity: "security",
    outcome: "DENIED",
    description: "A connected runtime sent a message the protocol does not allow (e.g. a result for a call it was never given).",
    resource: "The runtime id.",
    metadata: { reason: "What was wrong with the message." },
  },
  "runtime.enrolled": {
    code: "RUN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A runtime redeemed a join credential and was issued a client certificate.",
    resource: "The runtime id.",
    metadata: { certificateSerial: "Serial of the issued certificate.", spiffeId: "The certificate's identity." },
  },
  "runtime.admitted": {
    code: "RUN101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A runtime's announcement was accepted; it may now serve calls.",
    resource: "The runtime id.",
    metadata: { acceptedContracts: "Comma-separated contracts accepted.", rejectedContracts: "Comma-separated contracts refused.", certificateSerial: "The presented certificate." },
  },
  "runtime.rejected": {
    code: "RUN102S",
    severity: "security",
    outcome: "DENIED",
    description: "A runtime's announcement or certificate was refused (identity mismatch, revoked, or unauthorized contracts).",
    resource: "The runtime id it claimed.",
    metadata: { reasons: "Why it was refused.", certificateSerial: "The presented certificate, if any." },
  },
  "runtime.disconnected": {
    code: "RUN103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A runtime's stream closed.",
    resource: "The runtime id.",
    metadata: { reason: "Why the stream ended.", inFlight: "Calls in flight that were failed over or failed." },
  },
  "certificate.revoked": {
    code: "CRT100W",
    severity: "warning",
    outcome: "SUCCESS",
    description: "A runtime certificate was revoked; connections presenting it are closed.",
    resource: "The certificate serial.",
    metadata: { runtimeId: "The runtime it belonged to.", reason: "The revocation reason." },
  },

  // ------------------------------------------------------------ tenants, limits, configuration
  "tenant.created": {
    code: "TEN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A tenant was created.",
    resource: "The tenant id.",
    metadata: { displayName: "The tenant's display name." },
  },
  "tenant.suspended": {
    code: "TEN101W",
    severity: "warning",
    outcome: "SUCCESS",
    description: "A tenant was suspended: its principals can no longer act.",
    resource: "The tenant id.",
    metadata: { reason: "Why it was suspended." },
  },
  "tenant.resumed": {
    code: "TEN102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A suspended tenant was resumed.",
    resource: "The tenant id.",
    metadata: {},
  },
  "quota.exceeded": {
    code: "QTA100W",
    severity: "warning",
    outcome: "DENIED",
    description: "A call was refused by a rate limit, quota or budget.",
    resource: "The contract called.",
    metadata: { limit: "Which limit: rate, quota, in_flight or budget.", errorCode: "The EnterpriseError code returned." },
  },
  "config.changed": {
    code: "CFG100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A dynamic configuration value changed.",
    resource: "The configuration key.",
    metadata: { approvalRequestId: "The approval behind a sensitive change, if any." },
  },

  // ------------------------------------------------------------ security and transport
  "security.cross_tenant_attempt": {
    code: "SEC100S",
    severity: "security",
    outcome: "DENIED",
    description: "A principal referenced a resource of another tenant; answered as not found.",
    resource: "The identifier the caller supplied (never the other tenant's name).",
    metadata: { operation: "The RPC or step that caught it." },
  },
  "rpc.rejected": {
    code: "RPC100W",
    severity: "warning",
    outcome: "FAILURE",
    description: "A request was refused before reaching a use case (malformed, too large or unknown).",
    resource: "The RPC or HTTP route.",
    metadata: { errorCode: "The EnterpriseError code returned.", field: "The offending field, when known." },
  },

  // ------------------------------------------------------------ the log itself
  "audit.checkpoint_signed": {
    code: "AUD100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "The audit log signed a checkpoint; recording it anchors the checkpoint in the log that later checkpoints cover.",
    resource: "The log origin.",
    metadata: { treeSize: "Records covered.", rootHash: "RFC 6962 root, hex.", keyId: "The signing key's id." },
  },
} as const satisfies Record<string, AuditEventSpec>;

/** Every audit event type the Host records. */
export type AuditEventType = keyof typeof auditEventCatalogue;

/** Every audit event type, in catalogue order. */
export const auditEventTypes: readonly AuditEventType[] = Object.keys(auditEventCatalogue) as AuditEventType[];

/**
 * True when `type` names a catalogue entry (for data read back from storage or the wire).
 *
 * @param type - Any string.
 * @returns Whether it is an {@link AuditEventType}.
 */
export function isAuditEventType(type: string): type is AuditEventType {
  return Object.hasOwn(auditEventCatalogue, type);
}

/**
 * The catalogue entry of an event type.
 *
 * @param type - A catalogued type.
 * @returns Its specification.
 */
export function auditEventSpec(type: AuditEventType): AuditEventSpec {
  return auditEventCatalogue[type];
}

/**
 * Renders `docs/reference/audit-events.md` from the catalogue.
 *
 * @returns Markdown, deterministic for a given catalogue.
 */
export function renderAuditEventReference(): string {
  const lines: string[] = [
    "# Audit events",
    "",
    "<!-- Generated from packages/core/src/audit/events.ts by renderAuditEventReference(). Do not edit. -->",
    "",
    "Every event the Host records, from the one audit-event catalogue. Each record also carries",
    "`eventId`, `timestampMs`, `tenantId` (empty for platform events), `principalId`, `sessionId`,",
    "`action`, `outcome`, `sourceIp`, `userAgent`, `correlationId`, `riskScore` and `policyViolations`,",
    "plus its position in the log (`seq`) and its `leafHash` and `chainHash`.",
    "",
    "Codes are stable: `<area><number><severity>`, where the last letter is `I` (info: normal operation),",
    "`W` (warning: a refusal or failure worth watching in aggregate) or `S` (security: a suspected attack",
    "or integrity breach). Metadata values are strings; secrets are never recorded.",
    "",
    "| Type | Code | Severity | Outcome | Description |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const type of auditEventTypes) {
    const spec = auditEventSpec(type);
    lines.push(`| [\`${type}\`](#${anchor(type)}) | ${spec.code} | ${spec.severity} | ${spec.outcome} | ${cell(spec.description)} |`);
  }
  for (const type of auditEventTypes) {
    const spec = auditEventSpec(type);
    lines.push("", `## ${type}`, "", `\`${spec.code}\` · ${spec.severity} · outcome ${spec.outcome}`, "", spec.description, "");
    lines.push(`- **resource**: ${spec.resource}`);
    const keys = Object.keys(spec.metadata);
    if (keys.length === 0) {
      lines.push("- **metadata**: none");
    } else {
      lines.push("- **metadata**:");
      for (const key of keys) lines.push(`  - \`${key}\`: ${spec.metadata[key]!}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** GitHub's heading anchor: lower case, punctuation other than `-`/`_` dropped. */
function anchor(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9_\- ]/g, "").replace(/ /g, "-");
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}
