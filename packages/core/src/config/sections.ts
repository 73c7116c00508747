import type { ConfigKey } from "./registry.ts";

const key = <T extends string | number | boolean>(spec: ConfigKey<T>): ConfigKey<T> => spec;

/**
 * Every configuration key of the Host, in one registry. The reference
 * (`docs/reference/config.md`) and environment names are generated from it.
 */
export const hostConfigSchema = {
  mode: key({ type: "string", default: "development", enum: ["development", "production"], description: "`production` refuses dev-only defaults that weaken security." }),
  data_dir: key({ type: "string", default: ".aesp", description: "Directory for the embedded database, the master key and dev certificates.", devOnly: true }),
  trust_domain: key({ type: "string", default: "aesp.local", description: "SPIFFE trust domain named in runtime certificates." }),
  "log.level": key({ type: "string", default: "info", enum: ["trace", "debug", "info", "warn", "error", "fatal", "silent"], description: "Structured log level." }),

  "gateway.host": key({ type: "string", default: "127.0.0.1", description: "Address the API gateway listens on." }),
  "gateway.port": key({ type: "integer", default: 7443, min: 0, max: 65535, description: "API gateway port (HTTPS, HTTP/2 and HTTP/1.1; Connect, gRPC, gRPC-Web, JSON)." }),
  "gateway.dns_names": key({ type: "string", default: "localhost", description: "Comma-separated DNS names in the gateway's certificate (issued by the internal CA when no certificate file is given)." }),
  "gateway.tls_cert_file": key({ type: "string", default: "", description: "PEM certificate chain for the gateway; empty: issue one from the internal CA." }),
  "gateway.tls_key_file": key({ type: "string", default: "", description: "PEM private key for `gateway.tls_cert_file`.", sensitive: true }),
  "gateway.max_request_bytes": key({ type: "integer", default: 1_048_576, min: 1024, max: 67_108_864, description: "Largest accepted request body." }),
  "gateway.rate_limit_per_ip": key({ type: "integer", default: 6000, min: 1, description: "Requests per minute from one source address." }),
  "gateway.rate_limit_per_principal": key({ type: "integer", default: 3000, min: 1, description: "Requests per 10 seconds from one authenticated principal." }),

  "runtime_plane.host": key({ type: "string", default: "127.0.0.1", description: "Address the runtime plane listens on." }),
  "runtime_plane.port": key({ type: "integer", default: 7444, min: 0, max: 65535, description: "Runtime plane port (mutual TLS 1.3 only, client certificate required)." }),
  "runtime_plane.heartbeat_interval_ms": key({ type: "integer", default: 10_000, min: 100, max: 600_000, description: "How often runtimes must send a heartbeat; three missed ones mark the runtime unhealthy." }),
  "runtime_plane.max_in_flight_per_runtime": key({ type: "integer", default: 1024, min: 1, max: 65_536, description: "Calls dispatched to one runtime connection at once (application-level flow-control window)." }),
  "runtime_plane.max_message_bytes": key({ type: "integer", default: 4_194_304, min: 1024, max: 67_108_864, description: "Largest message a runtime may send." }),

  "storage.kind": key({ type: "string", default: "sqlite", enum: ["sqlite", "postgres"], description: "Storage backend." }),
  "storage.sqlite_path": key({ type: "string", default: "", description: "SQLite file; empty: `<data_dir>/aesp.db`." }),
  "storage.postgres_url": key({ type: "string", default: "", description: "PostgreSQL connection string when `storage.kind=postgres`.", sensitive: true }),
  "storage.postgres_schema": key({ type: "string", default: "public", description: "PostgreSQL schema holding the Host's tables." }),

  "identity.platform_tenant": key({ type: "string", default: "platform", description: "The tenant that holds platform administrators." }),
  "identity.access_token_ttl_seconds": key({ type: "integer", default: 900, min: 30, max: 86_400, description: "Lifetime of Host-issued access tokens." }),
  "identity.token_issuer": key({ type: "string", default: "aesp-host", description: "`iss` of Host-issued access tokens." }),
  "identity.refresh_token_ttl_seconds": key({ type: "integer", default: 28_800, min: 60, max: 2_592_000, description: "Absolute lifetime of a sign-in's refresh tokens; rotation never extends it." }),
  "identity.principal_cache_ms": key({ type: "integer", default: 0, min: 0, max: 300_000, description: "How long a Host may reuse a principal's record between calls. 0 makes role and status changes effective on the next call on every Host." }),
  "identity.lockout_account_failures": key({ type: "integer", default: 5, min: 1, max: 1000, description: "Failed sign-ins of one account within the window before it locks." }),
  "identity.lockout_source_failures": key({ type: "integer", default: 100, min: 1, max: 1_000_000, description: "Failed sign-ins from one source address within the window before it locks." }),
  "identity.lockout_window_seconds": key({ type: "integer", default: 900, min: 1, max: 86_400, description: "Window in which failed sign-ins are counted." }),
  "identity.lockout_base_seconds": key({ type: "integer", default: 30, min: 1, max: 86_400, description: "First lock duration; it doubles with each further failure." }),
  "identity.lockout_max_seconds": key({ type: "integer", default: 900, min: 1, max: 86_400, description: "Longest lock." }),
  "identity.max_secret_overlap_seconds": key({ type: "integer", default: 604_800, min: 0, max: 2_592_000, description: "Longest time a rotated service-account key keeps working next to its successor." }),
  "identity.directory_sync_interval_seconds": key({ type: "integer", default: 900, min: 0, max: 86_400, description: "How often linked LDAP principals are re-read from their directory (0: only at sign-in and on demand)." }),
  "identity.public_url": key({ type: "string", default: "", description: "The gateway's external URL (e.g. `https://aesp.example.com`), used in SAML metadata and assertion consumer URLs; empty: the listening address." }),

  "sessions.default_ttl_seconds": key({ type: "integer", default: 3600, min: 1, max: 604_800, description: "Session lifetime when the client does not ask for one." }),
  "sessions.max_ttl_seconds": key({ type: "integer", default: 86_400, min: 1, max: 604_800, description: "Longest session a client may ask for." }),

  "invocation.default_timeout_ms": key({ type: "integer", default: 30_000, min: 1, max: 3_600_000, description: "Deadline of a call that does not set one." }),
  "invocation.max_timeout_ms": key({ type: "integer", default: 300_000, min: 1, max: 3_600_000, description: "Longest deadline a call may ask for." }),
  "invocation.max_in_flight_per_session": key({ type: "integer", default: 1024, min: 1, description: "Calls in flight on one session on one Host." }),
  "invocation.max_in_flight_per_tenant": key({ type: "integer", default: 20_000, min: 1, description: "Calls in flight for one tenant on one Host." }),

  "routing.breaker_failure_threshold": key({ type: "integer", default: 5, min: 1, description: "Consecutive transport failures that open a runtime's circuit." }),
  "routing.breaker_open_ms": key({ type: "integer", default: 5000, min: 10, description: "How long an open circuit refuses before a trial call." }),

  "policy_rollouts.flush_every": key({ type: "integer", default: 100, min: 1, max: 1_000_000, description: "Counted calls of a policy rollout held in memory on one Host before they are added to the stored totals (and the rollback threshold is checked)." }),
  "policy_rollouts.flush_interval_ms": key({ type: "integer", default: 1000, min: 10, max: 60_000, description: "Longest time counted calls of a policy rollout wait in memory before they are added to the stored totals." }),

  "governance.approval_expiry_seconds": key({ type: "integer", default: 604_800, min: 60, description: "Default lifetime of an approval request." }),
  "governance.call_approval_expiry_seconds": key({ type: "integer", default: 3600, min: 60, max: 604_800, description: "How long approvers have to answer a call held by a REQUIRE_APPROVAL policy." }),
  "governance.call_approval_wait_seconds": key({ type: "integer", default: 120, min: 0, max: 3600, description: "Longest a held call waits for the approval (never past the call's own deadline); 0 answers APPROVAL_REQUIRED at once." }),
  "governance.call_approval_use_seconds": key({ type: "integer", default: 900, min: 10, max: 86_400, description: "After an approval, how long a retry of the same call may use it (once)." }),
  "governance.call_approval_poll_ms": key({ type: "integer", default: 500, min: 10, max: 60_000, description: "How often a held call re-reads its approval request (approvals given on another Host)." }),
  "break_glass.max_duration_seconds": key({ type: "integer", default: 3600, min: 1, max: 14_400, description: "Longest emergency override (break-glass) a principal may activate." }),
  "break_glass.review_due_seconds": key({ type: "integer", default: 86_400, min: 60, max: 2_592_000, description: "Time after a break-glass grant ends by which its mandatory review is due; an overdue review raises a WARNING alert." }),

  "runtimes.join_token_ttl_seconds": key({ type: "integer", default: 3600, min: 1, description: "Default lifetime of a join token." }),
  "runtimes.max_join_token_ttl_seconds": key({ type: "integer", default: 604_800, min: 1, description: "Longest join token lifetime." }),
  "runtimes.certificate_validity_seconds": key({ type: "integer", default: 86_400, min: 60, max: 2_592_000, description: "Lifetime of runtime certificates (renew before expiry)." }),

  "audit.origin": key({ type: "string", default: "aesp.local/audit", description: "Origin line of signed checkpoints (C2SP checkpoint format)." }),
  "audit.checkpoint_every": key({ type: "integer", default: 1000, min: 1, description: "Sign a checkpoint after this many records." }),
  "audit.checkpoint_interval_ms": key({ type: "integer", default: 10_000, min: 100, description: "Sign a checkpoint at least this often while records arrive." }),
  "audit.max_batch": key({ type: "integer", default: 4096, min: 1, max: 65_536, description: "Most records committed in one batch (one fsync)." }),
  "audit.max_queued": key({ type: "integer", default: 100_000, min: 1, description: "Records waiting for commit beyond which new ones are refused (back-pressure)." }),
  "audit.batch_max_wait_ms": key({ type: "integer", default: 0, min: 0, max: 1000, description: "Longest a commit batch waits for more records (until it holds `audit.max_batch`); 0: no timer, one event-loop turn. Each call waits this much longer for its durable record." }),
  "audit.default_retention_days": key({ type: "integer", default: 0, min: 0, max: 36_500, description: "Days a tenant's audit events are kept when no retention rule of the tenant covers their type; 0 keeps them forever." }),
  "audit.security_min_retention_days": key({ type: "integer", default: 365, min: 1, max: 36_500, description: "Floor under every retention rule for security events (catalogue severity `security`, and `audit.*`): a tenant cannot name them with a shorter rule, and a shorter `*` rule keeps them this long." }),
  "audit.retention_interval_ms": key({ type: "integer", default: 600_000, min: 1000, max: 86_400_000, description: "How often the retention sweeper removes expired audit events." }),
  "audit.retention_batch": key({ type: "integer", default: 1000, min: 1, max: 100_000, description: "Most audit events the retention sweeper tombstones in one run (all tenants together)." }),
  "audit.encrypt_personal_data": key({ type: "boolean", default: true, description: "Encrypt personal fields of audit events (source IP, user agent, personal metadata) under a per-subject key, so erasing the subject destroys them without breaking verification." }),

  "siem.syslog.address": key({ type: "string", default: "", description: "Syslog collector `host:port` receiving every audit record as RFC 5424 over TLS (RFC 5425, octet counting); empty: off." }),
  "siem.syslog.ca_file": key({ type: "string", default: "", description: "PEM CA the collector's certificate must chain to; empty: the system's CAs." }),
  "siem.syslog.server_name": key({ type: "string", default: "", description: "Name the collector's certificate must carry (and SNI); empty: the host of `siem.syslog.address`." }),
  "siem.syslog.tls_min_version": key({ type: "string", default: "TLSv1.3", enum: ["TLSv1.2", "TLSv1.3"], description: "Oldest TLS version accepted (RFC 5425 permits 1.2 for older collectors)." }),
  "siem.syslog.hostname": key({ type: "string", default: "", description: "HOSTNAME field of the messages; empty: the machine's host name." }),
  "siem.syslog.app_name": key({ type: "string", default: "aesp-host", description: "APP-NAME field of the messages." }),
  "siem.syslog.enterprise_id": key({ type: "integer", default: 32473, min: 1, description: "IANA private enterprise number in the structured-data id `aesp@<n>` (default: RFC 5612's documentation number)." }),
  "siem.syslog.event_types": key({ type: "string", default: "", description: "Comma-separated event types (`authz.*` prefixes allowed) sent to syslog; empty: all." }),
  "siem.syslog.min_severity": key({ type: "string", default: "info", enum: ["info", "warning", "security"], description: "Least catalogue severity sent to syslog." }),
  "siem.syslog.tenant": key({ type: "string", default: "", description: "Only this tenant's events go to syslog; empty: every tenant and platform events." }),
  "siem.webhook.url": key({ type: "string", default: "", description: "HTTPS endpoint receiving audit records as signed JSON batches; empty: off." }),
  "siem.webhook.secret": key({ type: "string", default: "", description: "HMAC-SHA256 key of the webhook signatures, as a reference: `env:NAME` or `file:/path` (literals are refused).", sensitive: true }),
  "siem.webhook.ca_file": key({ type: "string", default: "", description: "PEM CA the webhook server's certificate must chain to; empty: the system's CAs." }),
  "siem.webhook.event_types": key({ type: "string", default: "", description: "Comma-separated event types (`authz.*` prefixes allowed) sent to the webhook; empty: all." }),
  "siem.webhook.min_severity": key({ type: "string", default: "info", enum: ["info", "warning", "security"], description: "Least catalogue severity sent to the webhook." }),
  "siem.webhook.tenant": key({ type: "string", default: "", description: "Only this tenant's events go to the webhook; empty: every tenant and platform events." }),
  "siem.queue_size": key({ type: "integer", default: 10_000, min: 1, max: 1_000_000, description: "Records buffered per destination; beyond it they are dead-lettered at once (calls are never slowed)." }),
  "siem.batch_size": key({ type: "integer", default: 100, min: 1, max: 10_000, description: "Most records in one delivery." }),
  "siem.max_attempts": key({ type: "integer", default: 6, min: 1, max: 100, description: "Delivery attempts of a batch before it is dead-lettered." }),
  "siem.retry_base_ms": key({ type: "integer", default: 500, min: 1, max: 3_600_000, description: "First retry delay; it doubles per attempt, with jitter." }),
  "siem.retry_max_ms": key({ type: "integer", default: 60_000, min: 1, max: 3_600_000, description: "Longest retry delay." }),
  "siem.timeout_ms": key({ type: "integer", default: 10_000, min: 1, max: 600_000, description: "Deadline of one delivery attempt (connection, handshake, response)." }),

  "alerts.webhook.url": key({ type: "string", default: "", description: "HTTPS endpoint receiving alerts as signed JSON (same signature as SIEM webhooks); empty: off." }),
  "alerts.webhook.secret": key({ type: "string", default: "", description: "HMAC-SHA256 key of alert webhooks, as `env:NAME` or `file:/path`.", sensitive: true }),
  "alerts.webhook.ca_file": key({ type: "string", default: "", description: "PEM CA the alert webhook server's certificate must chain to; empty: the system's CAs." }),
  "alerts.chat.url": key({ type: "string", default: "", description: "Slack-compatible incoming-webhook URL receiving alerts as `{text, blocks}`, as `env:NAME` or `file:/path` (the URL is a credential); empty: off.", sensitive: true }),
  "alerts.chat.ca_file": key({ type: "string", default: "", description: "PEM CA the chat endpoint's certificate must chain to; empty: the system's CAs." }),
  "alerts.max_attempts": key({ type: "integer", default: 5, min: 1, max: 100, description: "Delivery attempts of an alert per connector." }),
  "alerts.retry_base_ms": key({ type: "integer", default: 500, min: 1, max: 3_600_000, description: "First retry delay of an alert; it doubles per attempt, with jitter." }),
  "alerts.denials_threshold": key({ type: "integer", default: 10, min: 1, max: 1_000_000, description: "Denials of one principal within the window that raise an alert." }),
  "alerts.denials_window_seconds": key({ type: "integer", default: 60, min: 1, max: 86_400, description: "Window of `alerts.denials_threshold`." }),
  "alerts.sign_in_failures_threshold": key({ type: "integer", default: 5, min: 1, max: 1_000_000, description: "Failed sign-ins for one account within the window that raise an alert." }),
  "alerts.sign_in_failures_window_seconds": key({ type: "integer", default: 300, min: 1, max: 86_400, description: "Window of `alerts.sign_in_failures_threshold`." }),
  "alerts.cooldown_seconds": key({ type: "integer", default: 60, min: 0, max: 86_400, description: "Quiet time after a rule fired for the same principal or key." }),
  "alerts.disabled_rules": key({ type: "string", default: "", description: "Comma-separated detection rules switched off: denials, break_glass, cross_tenant, audit_verification, sign_in_failures." }),
} as const satisfies Record<string, ConfigKey>;

export type HostConfigSchema = typeof hostConfigSchema;
