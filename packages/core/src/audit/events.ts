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
 * Metadata keys are snake_case, like the proto field names the wire uses, and
 * survive `redactMetadata` (credential-like names are allowed only as `…_id`
 * identifiers); a unit test holds that line.
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
    resource: "The principal, when known.",
    metadata: {
      method: "api_key, client_assertion, client_certificate, refresh_token, bearer_token, join_token, bootstrap_token, oidc, oidc_bearer, saml or ldap.",
      key_id: "Id of the API key used, when there is one.",
      token_id: "Id (jti) of the access token issued; never the token.",
    },
  },
  "authn.failed": {
    code: "ATN101W",
    severity: "warning",
    outcome: "DENIED",
    description: "An authentication attempt failed (bad, expired or revoked credential).",
    resource: "The claimed identity, when one was given.",
    metadata: { method: "The authentication method attempted.", reason: "Why it failed, without the credential." },
  },
  "bootstrap.redeemed": {
    code: "BOT100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "The one-time bootstrap credential was redeemed and the first administrator created.",
    resource: "The new administrator's principal.",
    metadata: {},
  },
  "principal.created": {
    code: "PRN099I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A user principal was created (e.g. a new tenant's first administrator).",
    resource: "The principal.",
    metadata: { roles: "Comma-separated roles granted." },
  },
  "principal.roles_updated": {
    code: "PRN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A principal's roles or direct permissions changed.",
    resource: "The principal.",
    metadata: { added: "Comma-separated roles added.", removed: "Comma-separated roles removed.", justification: "Why, as given.", reason: "Why, as given (a withdrawal)." },
  },
  "service_account.created": {
    code: "SVA100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A service account was created.",
    resource: "The service account's principal.",
    metadata: { roles: "Comma-separated roles granted.", clearance: "Its data-classification clearance." },
  },
  "service_account.revoked": {
    code: "SVA101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A service account and its API keys were revoked.",
    resource: "The service account's principal.",
    metadata: { reason: "Why it was revoked." },
  },
  "api_key.created": {
    code: "KEY100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An API key was issued to a principal (the secret is shown once and never recorded).",
    resource: "The key.",
    metadata: { expires_at: "Expiry, epoch ms, or 0 when it never expires." },
  },
  "api_key.exchanged": {
    code: "KEY101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An API key was exchanged for a short-lived access token.",
    resource: "The key.",
    metadata: { token_id: "Id (jti) of the access token issued.", expires_at: "Expiry of the access token, epoch ms." },
  },
  "api_key.revoked": {
    code: "KEY102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An API key was revoked.",
    resource: "The key.",
    metadata: { reason: "Why it was revoked." },
  },

  "authn.locked": {
    code: "ATN102S",
    severity: "security",
    outcome: "DENIED",
    description: "Repeated failed sign-ins locked an account or a source address for a while (possible password guessing).",
    resource: "The account or source address locked.",
    metadata: { method: "The authentication method attempted.", failures: "Failures counted in the window.", locked_until: "End of the lock, epoch ms." },
  },
  "token.refreshed": {
    code: "TOK100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A refresh token was rotated for a new access token.",
    resource: "The principal.",
    metadata: { family_id: "The refresh-token family (one per sign-in).", token_id: "Id (jti) of the new access token." },
  },
  "token.revoked": {
    code: "TOK101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An access or refresh token, or every token of a principal, was revoked.",
    resource: "The principal whose token was revoked.",
    metadata: { kind: "access_token, refresh_token or all.", token_id: "The revoked token's id (jti) or family id.", reason: "Why it was revoked." },
  },
  "token.reuse_detected": {
    code: "TOK102S",
    severity: "security",
    outcome: "DENIED",
    description: "A refresh token was presented after it had been used: the token may be stolen, so its whole family was revoked.",
    resource: "The principal.",
    metadata: { family_id: "The revoked family.", revoked_count: "How many tokens the revocation ended." },
  },
  "signing_key.rotated": {
    code: "TOK103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A new access-token signing key became current; older keys still verify until retired.",
    resource: "The new key.",
    metadata: { previous_key_id: "The key it replaced." },
  },
  "principal.synced": {
    code: "PRN101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A principal was created or updated from its identity provider (sign-in, scheduled sync or SCIM).",
    resource: "The principal.",
    metadata: {
      provider_id: "The identity provider.",
      created: "true when the principal was created by this sync.",
      linked_by: "With SCIM provisioning, how the sign-in found the SCIM user: external_id or user_name.",
      roles: "Comma-separated synchronised roles.",
      groups: "Comma-separated directory groups.",
    },
  },
  "principal.deprovisioned": {
    code: "PRN102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A principal was disabled or removed and its sessions and tokens were revoked.",
    resource: "The principal.",
    metadata: { provider_id: "The identity provider that removed it, if any.", reason: "Why (disabled, absent, scim_delete, scim_deactivate, administrator).", revoked_count: "Refresh tokens revoked.", sessions_ended: "Sessions ended." },
  },
  "identity_provider.changed": {
    code: "IDP100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A tenant's identity provider was created, updated or deleted.",
    resource: "The identity provider.",
    metadata: { kind: "oidc, saml or ldap.", change: "created, updated or deleted.", enabled: "Whether it is enabled after the change." },
  },
  "service_account.secret_rotated": {
    code: "SVA102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A service account received a new API key; its older keys keep working until the overlap window ends.",
    resource: "The service account's principal.",
    metadata: { key_id: "The new key's id.", old_keys_expire_at: "When the older keys stop working, epoch ms." },
  },
  "service_account.credential_registered": {
    code: "SVA103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A public key (for signed JWT assertions) or a client certificate (for mutual TLS) was registered for a service account.",
    resource: "The service account's principal.",
    metadata: { credential_id: "The credential's id.", kind: "public_key or certificate.", thumbprint_id: "Its SHA-256 thumbprint." },
  },
  "scim_user.created": { code: "SCM100I", severity: "info", outcome: "SUCCESS", description: "A SCIM client provisioned a user.", resource: "The principal.", metadata: { user_name: "The SCIM userName." } },
  "scim_user.updated": { code: "SCM101I", severity: "info", outcome: "SUCCESS", description: "A SCIM client replaced or patched a user.", resource: "The principal.", metadata: { user_name: "The SCIM userName." } },
  "scim_user.deactivated": { code: "SCM102I", severity: "info", outcome: "SUCCESS", description: "A SCIM client set a user inactive; its sessions and tokens were revoked.", resource: "The principal.", metadata: { user_name: "The SCIM userName." } },
  "scim_user.deleted": { code: "SCM103I", severity: "info", outcome: "SUCCESS", description: "A SCIM client deleted a user; the principal is kept as REVOKED for the audit trail.", resource: "The principal.", metadata: { user_name: "The SCIM userName." } },
  "scim_group.created": { code: "SCM110I", severity: "info", outcome: "SUCCESS", description: "A SCIM client created a group.", resource: "The group.", metadata: { display_name: "The group's name.", members: "Number of members." } },
  "scim_group.updated": { code: "SCM111I", severity: "info", outcome: "SUCCESS", description: "A SCIM client replaced or patched a group.", resource: "The group.", metadata: { display_name: "The group's name.", members: "Number of members." } },
  "scim_group.deleted": { code: "SCM112I", severity: "info", outcome: "SUCCESS", description: "A SCIM client deleted a group.", resource: "The group.", metadata: { display_name: "The group's name." } },

  // ------------------------------------------------------------ sessions
  "session.created": {
    code: "SES100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A session was created; its tenant is fixed for its lifetime.",
    resource: "`session:<id>`.",
    metadata: { expires_at: "When the session expires, epoch ms." },
  },
  "session.destroyed": {
    code: "SES101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A session was ended by its owner or an administrator.",
    resource: "`session:<id>`.",
    metadata: { force: "true when calls in flight were aborted.", aborted_invocations: "How many calls were aborted." },
  },
  "session.expired": {
    code: "SES102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A session reached its expiry and was closed.",
    resource: "`session:<id>`.",
    metadata: { expired_at: "When it expired, epoch ms." },
  },

  // ------------------------------------------------------------ authorization and policy
  "authz.allowed": {
    code: "AZN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "RBAC and policies allowed a tool call.",
    resource: "`contract:<name@version>`.",
    metadata: {
      invocation_id: "The call.",
      applied_policies: "Comma-separated ids of the policies that applied.",
      decision_reason: "Why the decision was reached.",
    },
  },
  "authz.denied": {
    code: "AZN101W",
    severity: "warning",
    outcome: "DENIED",
    description: "Authentication, RBAC, clearance, a policy, a quota or the budget refused a tool call before dispatch.",
    resource: "`contract:<name@version>` (or the name asked for).",
    metadata: {
      invocation_id: "The call.",
      error_code: "The EnterpriseError code returned.",
      step: "The pipeline step that refused it.",
      decision_reason: "The authorization decision's reason, when one was reached.",
    },
  },
  "authz.evaluated": {
    code: "AZN102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An authorization question was answered ahead of a call (AuthorizeAction, CheckPermission, EvaluatePolicy); nothing ran.",
    resource: "`contract:<name@version>`, `principal:<id>` or `group:<name>`.",
    metadata: {
      query: "authorize_action, check_permission or evaluate_policy.",
      subject: "The principal the question was about.",
      permission: "The permission asked about (check_permission).",
      decision: "ALLOW or DENY.",
      decision_reason: "Why.",
      applied_policies: "Comma-separated ids of the policies evaluated.",
      error_code: "The code the call would fail with, when it would.",
    },
  },
  "role.created": {
    code: "ROL100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A tenant role was defined.",
    resource: "`role:<name>`.",
    metadata: { permissions: "Comma-separated permissions of its own.", inherits: "Comma-separated roles it inherits.", justification: "Why, as given." },
  },
  "role.bound_to_group": {
    code: "ROL101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A role was bound to a directory group: its members hold it from their next call.",
    resource: "`role:<name>`.",
    metadata: { group: "The group's name.", justification: "Why, as given." },
  },
  "role.unbound_from_group": {
    code: "ROL102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A role was unbound from a directory group: its members lose it from their next call.",
    resource: "`role:<name>`.",
    metadata: { group: "The group's name.", reason: "Why, as given." },
  },
  "policy.audit_matched": {
    code: "POL100W",
    severity: "warning",
    outcome: "SUCCESS",
    description: "A policy with effect AUDIT matched a call; the call was allowed and flagged.",
    resource: "`contract:<name@version>`.",
    metadata: { invocation_id: "The call.", policies: "Comma-separated ids of the matching AUDIT policies." },
  },
  "policy.submitted": {
    code: "POL101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A policy version was submitted (created or updated) as a DRAFT; it acts only once approved.",
    resource: "`policy:<id>@<version>`.",
    metadata: {
      effect: "ALLOW, DENY or AUDIT.",
      operation: "create (version 1) or update (a later version).",
      based_on_version: "The newest version when the update was made (update only).",
      warnings: "How many validation warnings the version carries.",
    },
  },
  "policy.activated": {
    code: "POL102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approved policy version became ACTIVE.",
    resource: "`policy:<id>@<version>`.",
    metadata: { approval_request_id: "The approval that activated it.", requester_id: "Who asked for it." },
  },
  "policy.rejected": {
    code: "POL103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A submitted policy version was rejected by an approver.",
    resource: "`policy:<id>@<version>`.",
    metadata: { approval_request_id: "The approval that rejected it.", requester_id: "Who asked for it." },
  },
  "policy.retired": {
    code: "POL104I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A policy version stopped being effective.",
    resource: "`policy:<id>@<version>`.",
    metadata: { reason: "Why it was retired." },
  },
  "policy.decided": {
    code: "POL105I",
    severity: "info",
    outcome: "SUCCESS",
    description: "The policy stage decided a tool call (either way); the decision's inputs are kept so that TestPolicy can replay it.",
    resource: "`contract:<name@version>`.",
    metadata: {
      invocation_id: "The call.",
      decision: "ALLOW or DENY.",
      decision_reason: "Why the decision was reached.",
      applied_policies: "Comma-separated ids of the policies that applied.",
      rollout_id: "The policy rollout running in the tenant, when one is (absent otherwise).",
      acting_version: "During a rollout: `baseline` or `candidate`, the version of the rolled-out policy that acted.",
      acting_policy_version: "During a rollout: that version as `<policy id>@<version>` (version 0: the policy had no ACTIVE version).",
      decision_input:
        "The decision's inputs as JSON (format version `v`): principal type, bound roles, permissions, clearance, attributes and sign-in claims; session start; contract name, version, classification, compliance tags, risk and required roles; decision time; the arguments with every value the contract marks secret replaced by `[REDACTED]`, or null when larger than 8 KiB.",
    },
  },
  "policy.deletion_requested": {
    code: "POL106I",
    severity: "info",
    outcome: "SUCCESS",
    description: "Deleting a policy was requested: a deletion version was stored and put up for approval; once approved, no version of the policy acts.",
    resource: "`policy:<id>@<version>` (the deletion version).",
    metadata: { reason: "Why, as given.", active_version: "The version acting when the deletion was requested (empty when none)." },
  },
  "policy.evaluated": {
    code: "POL107I",
    severity: "info",
    outcome: "SUCCESS",
    description: "One policy's ACTIVE version was evaluated against a request (EvaluatePolicy); nothing ran.",
    resource: "`policy:<id>@<version>`.",
    metadata: { subject: "The principal the request was about.", contract: "The contract (`name@version`).", matched: "true or false.", error: "Why the evaluation failed, when it did." },
  },
  "policy.tested": {
    code: "POL108I",
    severity: "info",
    outcome: "SUCCESS",
    description: "Candidate policies were simulated (TestPolicy) on synthetic cases and, when asked, on recorded decisions; nothing changed.",
    resource: "`policy:<id>,…` (the candidates).",
    metadata: {
      cases: "How many synthetic cases were decided.",
      failed_cases: "How many of them did not meet their expectation.",
      replayed: "How many recorded decisions were decided again.",
      changed: "How many of them the candidates would change.",
      window: "The replayed window, `<start ms>-<end ms>`.",
    },
  },
  "policy.rollout_started": {
    code: "POL109I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A policy rollout began running: a shadow when started, a canary when its approval was granted (the candidate then acts for its cohort next to the baseline).",
    resource: "`policy:<id>@<candidate version>`.",
    metadata: {
      rollout_id: "The rollout.",
      mode: "SHADOW or CANARY.",
      candidate_version: "The version rolled out.",
      baseline_version: "The ACTIVE version it is compared with (0: none).",
      cohort: "Who the candidate is decided (shadow) or acts (canary) for.",
      threshold: "The disagreement rate that rolls it back.",
      min_samples: "Evaluations before the threshold applies.",
      approval_request_id: "The canary's approval (empty for a shadow).",
      started_by: "Who started it.",
    },
  },
  "policy.shadow_disagreement": {
    code: "POL110W",
    severity: "warning",
    outcome: "SUCCESS",
    description: "During a policy rollout, the baseline and the candidate decided a call differently; the acting one stood and the disagreement was counted.",
    resource: "`contract:<contract id>`.",
    metadata: {
      invocation_id: "The call.",
      rollout_id: "The rollout.",
      policy_id: "The rolled-out policy.",
      mode: "SHADOW or CANARY.",
      acting_version: "`baseline` or `candidate`: which decision acted.",
      baseline_decision: "ALLOW or DENY.",
      baseline_reason: "Why.",
      candidate_decision: "ALLOW or DENY.",
      candidate_reason: "Why.",
    },
  },
  "policy.rollout_promoted": {
    code: "POL111I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A canary rollout was promoted: its candidate acts for everyone and the baseline was retired.",
    resource: "`policy:<id>@<candidate version>`.",
    metadata: {
      rollout_id: "The rollout.",
      mode: "CANARY.",
      candidate_version: "The version now in force.",
      baseline_version: "The version retired (0: none).",
      cohort: "Who the candidate acted for until now.",
      threshold: "The rollback threshold.",
      min_samples: "Evaluations before the threshold applied.",
      evaluated: "Counted calls (stored totals).",
      disagreements: "Counted disagreements.",
      reason: "Why, as given.",
    },
  },
  "policy.rollout_stopped": {
    code: "POL112I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A policy rollout ended without promotion (stopped by an operator, its approval rejected or expired, or its end time reached); a canary's candidate was retired and the baseline alone acts.",
    resource: "`policy:<id>@<candidate version>`.",
    metadata: {
      rollout_id: "The rollout.",
      mode: "SHADOW or CANARY.",
      candidate_version: "The version rolled out.",
      baseline_version: "The version acting alone again (0: none).",
      cohort: "Who the candidate was decided or acted for.",
      threshold: "The rollback threshold.",
      min_samples: "Evaluations before the threshold applied.",
      evaluated: "Counted calls (stored totals).",
      disagreements: "Counted disagreements.",
      reason: "Why it ended.",
    },
  },
  "policy.rollout_rolled_back": {
    code: "POL113S",
    severity: "security",
    outcome: "SUCCESS",
    description: "A policy rollout rolled back by itself: its disagreement rate passed the threshold after the minimum samples; a canary's candidate was retired and the baseline alone acts. An alert is raised too.",
    resource: "`policy:<id>@<candidate version>`.",
    metadata: {
      rollout_id: "The rollout.",
      mode: "SHADOW or CANARY.",
      candidate_version: "The version rolled back.",
      baseline_version: "The version acting alone again (0: none).",
      cohort: "Who the candidate was decided or acted for.",
      threshold: "The rollback threshold.",
      min_samples: "Evaluations before the threshold applied.",
      evaluated: "Counted calls (stored totals across Hosts).",
      disagreements: "Counted disagreements.",
      reason: "The observed rate and the threshold.",
    },
  },

  // ------------------------------------------------------------ tool calls
  "tool_call.approval_requested": {
    code: "TCL110I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A REQUIRE_APPROVAL policy held a call and opened an approval request for it (artifact type TOOL_CALL, artifact id the call's fingerprint); an identical retry joins the same request.",
    resource: "`contract:<name@version>`.",
    metadata: { invocation_id: "The held call.", approval_request_id: "The request approvers adjudicate.", required_approvers: "`role:<name>` / `principal:<id>`, comma-separated.", policies: "The REQUIRE_APPROVAL policies that matched." },
  },
  "tool_call.approval_used": {
    code: "TCL111I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A held call (or its retry) went on under an approval; each approval is used by one call only.",
    resource: "`contract:<name@version>`.",
    metadata: { invocation_id: "The call that used the approval.", approval_request_id: "The approval.", approved_by: "The approver." },
  },
  "tool_call.started": {
    code: "TCL100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An authorized call was dispatched to a runtime.",
    resource: "`contract:<name@version>`.",
    metadata: { invocation_id: "The call.", call_id: "The caller's call id.", deadline_ms: "The deadline granted." },
  },
  "tool_call.completed": {
    code: "TCL101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A call returned a valid result to its caller.",
    resource: "`contract:<name@version>`.",
    metadata: {
      invocation_id: "The call.",
      runtime_id: "The runtime that served it.",
      duration_ms: "Wall time.",
      status: "SUCCESS, or ERROR when the tool reported an error result.",
      error_type: "The tool's error type, for an error result.",
    },
  },
  "tool_call.failed": {
    code: "TCL102W",
    severity: "warning",
    outcome: "ERROR",
    description: "A call failed after dispatch: the runtime reported an error, went away, missed the deadline, or the call was cancelled (outcome FAILURE).",
    resource: "`contract:<name@version>`.",
    metadata: {
      invocation_id: "The call.",
      runtime_id: "The runtime, when one was chosen.",
      duration_ms: "Wall time.",
      error_code: "The EnterpriseError code returned.",
      step: "The pipeline step that failed.",
      status: "ERROR for a tool error result.",
      error_type: "The tool's error type, for an error result.",
    },
  },
  "tool_call.cancelled": {
    code: "TCL103I",
    severity: "info",
    outcome: "FAILURE",
    description: "The caller cancelled a call in flight.",
    resource: "`contract:<name@version>`.",
    metadata: { invocation_id: "The call.", runtime_id: "The runtime serving it." },
  },
  "tool_call.arguments_rejected": {
    code: "TCL104W",
    severity: "warning",
    outcome: "DENIED",
    description: "A call's arguments did not match the contract's parameter schema; nothing was dispatched.",
    resource: "`contract:<name@version>`.",
    metadata: { invocation_id: "The call.", error_code: "PARAMETER_VALIDATION_FAILED.", step: "The validating step." },
  },
  "tool_call.result_rejected": {
    code: "TCL105S",
    severity: "security",
    outcome: "FAILURE",
    description: "A runtime returned a result that violates the contract's return type; it was withheld from the caller.",
    resource: "`contract:<name@version>`.",
    metadata: { invocation_id: "The call.", runtime_id: "The runtime that returned it.", first_issue: "JSON pointer and message of the first violation, never the value." },
  },

  // ------------------------------------------------------------ contracts
  "contract.submitted": {
    code: "CON100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A tool contract version was submitted as a DRAFT.",
    resource: "`contract:<name@version>`.",
    metadata: { classification: "The contract's security classification.", risk: "LOW, MEDIUM or HIGH." },
  },
  "contract.approval_requested": {
    code: "CON101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A contract version moved to PENDING_APPROVAL.",
    resource: "`contract:<name@version>`.",
    metadata: { approval_request_id: "The approval request opened for it." },
  },
  "contract.activated": {
    code: "CON102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approved contract version became ACTIVE.",
    resource: "`contract:<name@version>`.",
    metadata: { approval_request_id: "The approval that activated it.", requester_id: "Who asked for it." },
  },
  "contract.rejected": {
    code: "CON103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A contract version was rejected by an approver.",
    resource: "`contract:<name@version>`.",
    metadata: { approval_request_id: "The approval that rejected it.", requester_id: "Who asked for it." },
  },
  "contract.deprecated": {
    code: "CON104I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A contract version was DEPRECATED: still callable, flagged for replacement.",
    resource: "`contract:<name@version>`.",
    metadata: { from: "The previous status.", to: "DEPRECATED.", reason: "Why." },
  },
  "contract.retired": {
    code: "CON105I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A contract version was RETIRED: calls to it are refused.",
    resource: "`contract:<name@version>`.",
    metadata: { from: "The previous status.", to: "RETIRED.", reason: "Why." },
  },

  // ------------------------------------------------------------ approvals
  "approval.requested": {
    code: "APR100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approval request was opened for a governed change.",
    resource: "The artifact to approve, e.g. `contract:<name@version>`.",
    metadata: {
      approval_request_id: "The request.",
      artifact_type: "TOOL_CONTRACT or POLICY.",
      required_approvers: "Comma-separated approver roles or principals.",
    },
  },
  "approval.granted": {
    code: "APR101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approver granted an approval request.",
    resource: "The approved artifact.",
    metadata: { approval_request_id: "The request.", requester_id: "Who asked for it." },
  },
  "approval.denied": {
    code: "APR102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An approver denied an approval request.",
    resource: "The denied artifact.",
    metadata: { approval_request_id: "The request.", requester_id: "Who asked for it." },
  },
  "approval.expired": {
    code: "APR103I",
    severity: "info",
    outcome: "FAILURE",
    description: "An approval request expired undecided.",
    resource: "The artifact left unapproved.",
    metadata: { approval_request_id: "The request." },
  },
  "approval.self_approval_blocked": {
    code: "APR104S",
    severity: "security",
    outcome: "DENIED",
    description: "A principal tried to adjudicate their own approval request; refused (requester ≠ approver).",
    resource: "The artifact concerned.",
    metadata: { approval_request_id: "The request." },
  },

  // ------------------------------------------------------------ break-glass (emergency override)
  "break_glass.activated": {
    code: "BGL100S",
    severity: "security",
    outcome: "SUCCESS",
    description: "A principal activated an emergency override (break-glass): for a limited time its calls go on where a policy would refuse them. Raises a CRITICAL alert and opens a mandatory review.",
    resource: "`break_glass:<grant id>`.",
    metadata: {
      grant_id: "The grant.",
      justification: "The holder's written justification.",
      contracts: "Comma-separated contract names it is limited to; empty: every contract of the tenant.",
      expires_at: "Expiry, epoch ms.",
      duration_seconds: "Requested duration.",
      review_due_at: "When the after-the-fact review is due, epoch ms.",
    },
  },
  "break_glass.activation_refused": {
    code: "BGL101S",
    severity: "security",
    outcome: "DENIED",
    description: "An attempt to activate break-glass was refused (no permission, bad justification or duration, already active).",
    resource: "`break_glass:new`.",
    metadata: { error_code: "The EnterpriseError code returned.", field: "The offending field, when one was." },
  },
  "break_glass.used": {
    code: "BGL102S",
    severity: "security",
    outcome: "SUCCESS",
    description: "A call that the policy stage refused went on under an active break-glass grant (the enhanced audit of every overridden decision). The first use of a grant raises a CRITICAL alert.",
    resource: "`contract:<name@version>`.",
    metadata: {
      grant_id: "The grant the call went on under.",
      invocation_id: "The call.",
      overridden_decision: "The policy decision that was overridden (DENY).",
      overridden_error: "POLICY_VIOLATION or POLICY_EVALUATION_FAILED: the refusal the call would have had.",
      decision_reason: "The decision's reason.",
      applied_policies: "Comma-separated policies that applied.",
      denying_policy: "The policy that denied, when one did.",
    },
  },
  "break_glass.ended": {
    code: "BGL103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A break-glass grant was ended early by its holder or an administrator; it no longer acts.",
    resource: "`break_glass:<grant id>`.",
    metadata: { grant_id: "The grant.", holder_id: "Its holder.", reason: "Why it was ended." },
  },
  "break_glass.expired": {
    code: "BGL104I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A break-glass grant reached its expiry (it stopped acting at that instant; this records it once).",
    resource: "`break_glass:<grant id>`.",
    metadata: { grant_id: "The grant.", holder_id: "Its holder.", expires_at: "Expiry, epoch ms." },
  },
  "break_glass.reviewed": {
    code: "BGL105I",
    severity: "info",
    outcome: "SUCCESS",
    description: "The mandatory after-the-fact review of a break-glass grant was recorded. UNJUSTIFIED raises a HIGH alert.",
    resource: "`break_glass:<grant id>`.",
    metadata: { grant_id: "The grant.", holder_id: "Its holder.", review_outcome: "JUSTIFIED or UNJUSTIFIED.", comments: "The reviewer's comments." },
  },
  "break_glass.review_overdue": {
    code: "BGL106W",
    severity: "warning",
    outcome: "FAILURE",
    description: "The review of a break-glass grant is past due; a WARNING alert was raised (once per grant).",
    resource: "`break_glass:<grant id>`.",
    metadata: { grant_id: "The grant.", holder_id: "Its holder.", review_due_at: "When it was due, epoch ms." },
  },
  "break_glass.self_review_blocked": {
    code: "BGL107S",
    severity: "security",
    outcome: "DENIED",
    description: "A principal tried to review their own break-glass grant; refused (holder ≠ reviewer).",
    resource: "`break_glass:<grant id>`.",
    metadata: { grant_id: "The grant." },
  },

  // ------------------------------------------------------------ runtimes
  "runtime.join_token_created": {
    code: "RUN110I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A one-time join token was created for a runtime (the token itself is never recorded).",
    resource: "`runtime:<id>`.",
    metadata: { token_id: "The token's id.", allowed_contracts: "Contract names the runtime may be admitted for.", expires_at: "Expiry, epoch ms." },
  },
  "runtime.enrolled": {
    code: "RUN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A runtime redeemed a join token and was issued a client certificate.",
    resource: "`runtime:<id>`.",
    metadata: {
      serial: "Serial of the issued certificate.",
      spiffe_id: "The certificate's identity.",
      not_after: "Certificate expiry, epoch ms.",
      token_id: "The join token redeemed.",
    },
  },
  "runtime.admitted": {
    code: "RUN101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A runtime's announcement was accepted; it may now serve calls.",
    resource: "`runtime:<id>`.",
    metadata: { accepted: "Comma-separated contracts accepted.", serial: "The presented certificate's serial." },
  },
  "runtime.rejected": {
    code: "RUN102S",
    severity: "security",
    outcome: "DENIED",
    description: "A runtime's announcement or certificate was refused (identity mismatch, revoked, or unauthorized contracts), wholly or for some contracts.",
    resource: "`runtime:<id>` as claimed.",
    metadata: {
      reason: "Why it was refused.",
      serial: "The presented certificate's serial.",
      claimed_runtime_id: "The runtime id the announcement claimed.",
      claimed_tenant_id: "The tenant the announcement claimed.",
      rejected: "Comma-separated `contract:reason` pairs refused.",
    },
  },
  "runtime.disconnected": {
    code: "RUN103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A runtime's stream closed.",
    resource: "`runtime:<id>`.",
    metadata: { connection_id: "The stream that closed." },
  },
  "runtime.protocol_violation": {
    code: "RUN410S",
    severity: "security",
    outcome: "DENIED",
    description: "A connected runtime sent a message the protocol does not allow (e.g. a result for a call it was never given).",
    resource: "`runtime:<id>`.",
    metadata: { reason: "What was wrong with the message." },
  },
  "certificate.revoked": {
    code: "CRT100W",
    severity: "warning",
    outcome: "SUCCESS",
    description: "A runtime certificate was revoked; connections presenting it are closed.",
    resource: "The certificate serial.",
    metadata: { reason: "The revocation reason." },
  },

  // ------------------------------------------------------------ tenants, limits, configuration
  "tenant.created": {
    code: "TEN100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A tenant was created.",
    resource: "`tenant:<id>`.",
    metadata: { by_tenant: "The tenant of the administrator who created it." },
  },
  "tenant.policy_engine_changed": {
    code: "TEN103I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A platform administrator moved a tenant to another policy engine (every ACTIVE policy compiled with it first); the tenant's next call decides with it.",
    resource: "`tenant:<id>`.",
    metadata: { from: "The previous engine (`cel`, `cedar`).", to: "The new engine." },
  },
  "tenant.suspended": {
    code: "TEN101W",
    severity: "warning",
    outcome: "SUCCESS",
    description: "A tenant was suspended: its principals can no longer act.",
    resource: "`tenant:<id>`.",
    metadata: {},
  },
  "tenant.resumed": {
    code: "TEN102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A suspended tenant was resumed.",
    resource: "`tenant:<id>`.",
    metadata: {},
  },
  "quota.exceeded": {
    code: "QTA100W",
    severity: "warning",
    outcome: "DENIED",
    description: "A call was refused by a rate limit, quota or budget.",
    resource: "`contract:<name@version>`.",
    metadata: { limit: "rate, quota, in_flight or budget.", error_code: "The EnterpriseError code returned." },
  },
  "config.changed": {
    code: "CFG100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A dynamic configuration value changed.",
    resource: "`config:<key>`.",
    metadata: { approval_request_id: "The approval behind a sensitive change, if any." },
  },

  // ------------------------------------------------------------ security and transport
  "security.cross_tenant_attempt": {
    code: "SEC100S",
    severity: "security",
    outcome: "DENIED",
    description: "A principal referenced a resource of another tenant; answered as not found.",
    resource: "The identifier the caller supplied, e.g. `session:<id>` (never the other tenant's name).",
    metadata: {},
  },
  "rpc.rejected": {
    code: "RPC100W",
    severity: "warning",
    outcome: "FAILURE",
    description: "A request was refused before reaching a use case (malformed, too large or unknown).",
    resource: "The RPC or HTTP route.",
    metadata: { error_code: "The EnterpriseError code returned.", field: "The offending field, when known." },
  },

  // ------------------------------------------------------------ the log itself
  "audit.checkpoint_signed": {
    code: "AUD100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "The audit log signed a checkpoint; recording it anchors the checkpoint in the log that later checkpoints cover.",
    resource: "The log origin.",
    metadata: { tree_size: "Records covered.", root_hash: "RFC 6962 root, hex.", key_id: "The signing key's id." },
  },

  "audit.retention_set": {
    code: "AUD110I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A tenant administrator set or removed a retention rule for the tenant's audit events.",
    resource: "`retention:<pattern>`.",
    metadata: { pattern: "`*`, a family `type.*` or an exact event type.", retention_days: "Days kept; 0 when the rule was removed." },
  },
  "audit.retention_applied": {
    code: "AUD111I",
    severity: "info",
    outcome: "SUCCESS",
    description: "The retention sweeper removed the content of expired audit events of one tenant, keeping each as a tombstone (hashes, time, type) so the log still verifies.",
    resource: "`tenant:<id>`.",
    metadata: { tombstoned: "Events removed in this run.", first_seq: "Lowest seq removed.", last_seq: "Highest seq removed." },
  },
  "audit.legal_hold_placed": {
    code: "AUD112I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A legal hold was placed: matching events are kept past retention and their subjects cannot be erased.",
    resource: "`legal_hold:<id>`.",
    metadata: { subject: "The principal held, or empty for the whole tenant.", from_ms: "Start of the held time range (0: open).", to_ms: "End of the held time range (0: open).", reason: "Why (case reference)." },
  },
  "audit.legal_hold_released": {
    code: "AUD113I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A legal hold was released; retention applies again to the events it covered.",
    resource: "`legal_hold:<id>`.",
    metadata: {},
  },
  "audit.subject_erased": {
    code: "AUD114S",
    severity: "security",
    outcome: "SUCCESS",
    description: "A data subject was erased (GDPR art. 17): their audit subject key was destroyed, so the personal fields of their events read [ERASED]; the hashes, chain and proofs still verify.",
    resource: "`principal:<id>`.",
    metadata: { keys_destroyed: "Subject keys destroyed." },
  },

  // ------------------------------------------------------------ detection and forwarding
  "alert.raised": {
    code: "ALR100S",
    severity: "security",
    outcome: "SUCCESS",
    description: "A real-time detection rule fired on the audit stream and an alert was sent to the configured connectors. Detection ignores these events, so an alert cannot trigger another.",
    resource: "`rule:<id>`.",
    metadata: {
      rule: "The rule that fired: denials, break_glass, cross_tenant, audit_verification, sign_in_failures.",
      alert_severity: "INFO, WARNING, HIGH or CRITICAL.",
      trigger_event_id: "The event that made the rule fire.",
      trigger_event_type: "Its type.",
      count: "Events counted in the window, for threshold rules.",
      window_seconds: "The window, for threshold rules.",
    },
  },
  "siem.dead_letters_replayed": {
    code: "SIE100I",
    severity: "info",
    outcome: "SUCCESS",
    description: "A platform administrator replayed SIEM deliveries that had been dead-lettered.",
    resource: "`siem:<destination>` or `siem:*`.",
    metadata: { replayed: "Dead letters delivered and removed.", failed: "Dead letters whose delivery failed again (kept)." },
  },
  "audit.exported": {
    code: "AUD101I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An auditor started an export of audit events (ExportAuditLogs); recorded before the first byte is sent.",
    resource: "`tenant:<id>`, or `tenant:*` for a platform-wide export.",
    metadata: {
      format: "JSONL, CSV, CEF or OCSF.",
      verifiable: "true when the export carries inclusion proofs and a signed manifest.",
      tree_size: "The checkpoint the export is proved against (verifiable exports).",
      event_types: "Comma-separated event types filtered on, when any.",
    },
  },
  "audit.compliance_reported": {
    code: "AUD102I",
    severity: "info",
    outcome: "SUCCESS",
    description: "An auditor generated a compliance report (GetComplianceReport).",
    resource: "`tenant:<id>`.",
    metadata: { framework: "SOC2, ISO27001, GDPR, HIPAA or PCI_DSS.", verification: "VERIFIED, FAILED or NO_CHECKPOINT.", tree_size: "The checkpoint the report is anchored to." },
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
