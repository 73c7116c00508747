/**
 * Retention and erasure of audit events, as pure rules.
 *
 * Rules enforced here:
 * - A retention rule names `*`, a family `type.*` or an exact type; the most specific rule that
 *   matches an event's type decides how long it is kept (exact > family > `*` > the Host default).
 * - Security events (catalogue severity `security`, and every `audit.*` event) are never kept
 *   less than the configured floor: a rule that names them more briefly is refused, and a short
 *   `*` rule or default keeps them for the floor.
 * - An active legal hold keeps every event it covers (its principal, or all; its time range, or
 *   all), and blocks the erasure of a subject it covers.
 * - Personal fields of an event (source IP, user agent, metadata under {@link PERSONAL_METADATA_KEYS})
 *   are sealed per subject (the event's principal) before hashing; erasing the subject destroys
 *   the key, and readers then see {@link ERASED}.
 */
import { EnterpriseError } from "../errors.ts";
import type { AuditPrunePlan, AuditPruneStep, AuditTypeSelector } from "../ports.ts";
import type { AuditEventDraft, AuditLegalHoldRecord, AuditRecord, AuditRetentionRuleRecord } from "../records.ts";
import { auditEventCatalogue, auditEventTypes } from "./events.ts";

/** One day in milliseconds. */
export const DAY_MS = 86_400_000;

/** Longest retention a rule may name (100 years). */
export const MAX_RETENTION_DAYS = 36_500;

/** What readers see in a personal field whose subject was erased. */
export const ERASED = "[ERASED]";

/** What readers see in a sealed field they cannot open (key missing or ciphertext altered). */
export const UNREADABLE = "[UNREADABLE]";

/** Prefix of a sealed personal field: `pd1:<key id>:<base64url iv || ciphertext || tag>`. */
export const SEALED_PREFIX = "pd1:";

/** Metadata keys whose values are personal data of the event's principal. */
export const PERSONAL_METADATA_KEYS: readonly string[] = ["email", "name", "full_name", "given_name", "family_name", "username", "phone"];

const EXACT = /^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$/;
const FAMILY = /^[a-z]+(_[a-z]+)*\.\*$/;

/**
 * Event types held to the security floor: catalogue severity `security`, and the log's own
 * `audit.*` events (retention, holds and erasures must outlive what they account for).
 */
export const SECURITY_FLOOR_TYPES: readonly string[] = auditEventTypes.filter(
  (type) => auditEventCatalogue[type].severity === "security" || type.startsWith("audit."),
);

/**
 * Checks a retention pattern.
 *
 * @param pattern - `*`, `family.*` or `family.event`.
 * @returns The selector the store applies.
 * @throws EnterpriseError INVALID_ARGUMENT (field `pattern`) otherwise.
 */
export function retentionSelector(pattern: string): AuditTypeSelector {
  if (pattern === "*") return { kind: "any", value: "" };
  if (FAMILY.test(pattern)) return { kind: "prefix", value: pattern.slice(0, -1) };
  if (EXACT.test(pattern)) return { kind: "exact", value: pattern };
  throw new EnterpriseError("INVALID_ARGUMENT", {
    message: "A retention pattern is `*`, an event family such as `tool_call.*`, or an exact event type.",
    details: { field: "pattern" },
  });
}

/**
 * Checks a rule a tenant administrator sets.
 *
 * @param pattern - The rule's pattern.
 * @param days - Days kept; 0 removes the rule.
 * @param floorDays - The security floor (`audit.security_min_retention_days`).
 * @throws EnterpriseError INVALID_ARGUMENT: a bad pattern, days out of range, or (field
 *   `retention_days`, details.minimum_days) a rule shorter than the floor that names security events.
 */
export function checkRetentionRule(pattern: string, days: number, floorDays: number): void {
  const selector = retentionSelector(pattern);
  if (!Number.isSafeInteger(days) || days < 0 || days > MAX_RETENTION_DAYS) {
    throw new EnterpriseError("INVALID_ARGUMENT", { message: `Retention is a whole number of days, 1 to ${MAX_RETENTION_DAYS} (0 removes the rule).`, details: { field: "retention_days" } });
  }
  if (days === 0 || days >= floorDays || selector.kind === "any") return;
  const covered = SECURITY_FLOOR_TYPES.filter((type) => matches(selector, type));
  if (covered.length > 0) {
    throw new EnterpriseError("INVALID_ARGUMENT", {
      message: `Security events are kept at least ${floorDays} days; this pattern covers ${covered[0]!}.`,
      details: { field: "retention_days", minimum_days: String(floorDays), covered_type: covered[0]! },
    });
  }
}

/** Whether a selector matches an event type. */
function matches(selector: AuditTypeSelector, type: string): boolean {
  if (selector.kind === "any") return true;
  if (selector.kind === "prefix") return type.startsWith(selector.value);
  return type === selector.value;
}

/** Inputs of {@link retentionPlan}. */
export interface RetentionPlanInput {
  tenantId: string;
  rules: readonly Pick<AuditRetentionRuleRecord, "pattern" | "days">[];
  holds: readonly AuditLegalHoldRecord[];
  now: number;
  /** `audit.default_retention_days`: applies when the tenant has no `*` rule; 0 keeps forever. */
  defaultDays: number;
  floorDays: number;
  limit: number;
}

/**
 * The steps a store runs to remove one tenant's expired events, or null when nothing can be
 * removed (no rule, or a hold over the whole tenant).
 *
 * Each rule becomes a step over the types it matches minus those a more specific rule governs;
 * a rule shorter than the floor splits into a step without the floor types and one with them at
 * the floor.
 *
 * @param input - The tenant's rules and active holds, the time and the limits.
 * @returns The plan, or null.
 */
export function retentionPlan(input: RetentionPlanInput): AuditPrunePlan | null {
  const active = input.holds.filter((hold) => hold.releasedAt === null);
  if (active.some((hold) => hold.principalId === "" && hold.fromMs === 0 && hold.toMs === 0)) return null;
  const rules = input.rules.map((rule) => ({ selector: retentionSelector(rule.pattern), days: rule.days })).filter((rule) => rule.days > 0);
  if (input.defaultDays > 0 && !rules.some((rule) => rule.selector.kind === "any")) rules.push({ selector: { kind: "any", value: "" }, days: input.defaultDays });
  if (rules.length === 0) return null;
  const steps: AuditPruneStep[] = [];
  for (const rule of rules) {
    const exclude = rules.filter((other) => other !== rule && moreSpecificWithin(other.selector, rule.selector)).map((other) => other.selector);
    const before = (days: number) => input.now - days * DAY_MS;
    if (rule.days >= input.floorDays) {
      steps.push({ beforeMs: before(rule.days), include: rule.selector, exclude, typeFilter: null });
      continue;
    }
    const floorTypes = SECURITY_FLOOR_TYPES.filter((type) => matches(rule.selector, type));
    steps.push({ beforeMs: before(rule.days), include: rule.selector, exclude, typeFilter: floorTypes.length === 0 ? null : { mode: "exclude", types: floorTypes } });
    if (floorTypes.length > 0) steps.push({ beforeMs: before(input.floorDays), include: rule.selector, exclude, typeFilter: { mode: "only", types: floorTypes } });
  }
  return { tenantId: input.tenantId, steps, holds: active.map(({ principalId, fromMs, toMs }) => ({ principalId, fromMs, toMs })), limit: input.limit };
}

/** True when `inner` is strictly more specific than `outer` and lies inside it. */
function moreSpecificWithin(inner: AuditTypeSelector, outer: AuditTypeSelector): boolean {
  if (outer.kind === "any") return inner.kind !== "any";
  if (outer.kind === "prefix") return inner.kind === "exact" && inner.value.startsWith(outer.value);
  return false;
}

/**
 * Whether an active legal hold covers a subject (a hold over the whole tenant or naming the
 * subject, whatever its time range: an erasure would destroy every period at once).
 *
 * @param holds - The tenant's holds.
 * @param subjectId - The principal to erase.
 * @returns The covering hold, or undefined.
 */
export function holdCoveringSubject(holds: readonly AuditLegalHoldRecord[], subjectId: string): AuditLegalHoldRecord | undefined {
  return holds.find((hold) => hold.releasedAt === null && (hold.principalId === "" || hold.principalId === subjectId));
}

/** A personal field of an event: a top-level field or a metadata key. */
export type PersonalField = "sourceIp" | "userAgent" | `metadata.${string}`;

/**
 * The personal fields of an event that hold a non-empty, not yet sealed value, or an empty list
 * when the event has no subject (no tenant or no principal): there is nobody to erase.
 *
 * @param event - A draft.
 * @returns The fields to seal.
 */
export function personalFields(event: AuditEventDraft): PersonalField[] {
  if (event.tenantId === "" || event.principalId === "") return [];
  const fields: PersonalField[] = [];
  if (event.sourceIp !== "" && !event.sourceIp.startsWith(SEALED_PREFIX)) fields.push("sourceIp");
  if (event.userAgent !== "" && !event.userAgent.startsWith(SEALED_PREFIX)) fields.push("userAgent");
  for (const key of PERSONAL_METADATA_KEYS) {
    const value = Object.hasOwn(event.metadata, key) ? event.metadata[key] : undefined;
    if (value !== undefined && value !== "" && !value.startsWith(SEALED_PREFIX)) fields.push(`metadata.${key}`);
  }
  return fields;
}

/**
 * A copy of `event` with each value replaced by `transform(value, field)`: the given fields
 * when `fields` is set (sealing), else every sealed value found (revealing).
 *
 * @param event - A draft or record.
 * @param transform - Seals or opens one value.
 * @param fields - The fields to transform; omitted: every value starting with {@link SEALED_PREFIX}.
 * @returns A new object (the input is not mutated), or the input itself when nothing applies.
 */
export function mapPersonalFields<T extends AuditEventDraft>(event: T, transform: (value: string, field: PersonalField) => string, fields?: readonly PersonalField[]): T {
  const wanted = fields ?? sealedFields(event);
  if (wanted.length === 0) return event;
  const copy: T = { ...event, metadata: { ...event.metadata } };
  for (const field of wanted) {
    if (field === "sourceIp" || field === "userAgent") copy[field] = transform(event[field], field);
    else {
      const key = field.slice("metadata.".length);
      copy.metadata[key] = transform(event.metadata[key] ?? "", field);
    }
  }
  return copy;
}

function sealedFields(event: AuditEventDraft): PersonalField[] {
  const fields: PersonalField[] = [];
  if (event.sourceIp.startsWith(SEALED_PREFIX)) fields.push("sourceIp");
  if (event.userAgent.startsWith(SEALED_PREFIX)) fields.push("userAgent");
  for (const [key, value] of Object.entries(event.metadata)) if (value.startsWith(SEALED_PREFIX)) fields.push(`metadata.${key}`);
  return fields;
}

/**
 * The key id a sealed value names, or null when `value` is not sealed.
 *
 * @param value - A field value.
 * @returns The subject key id.
 */
export function sealedKeyId(value: string): string | null {
  if (!value.startsWith(SEALED_PREFIX)) return null;
  const end = value.indexOf(":", SEALED_PREFIX.length);
  return end < 0 ? null : value.slice(SEALED_PREFIX.length, end);
}

/**
 * The subject key ids the sealed fields of these records name.
 *
 * @param records - Records as stored.
 * @returns Distinct key ids.
 */
export function sealedKeyIds(records: readonly AuditRecord[]): string[] {
  const ids = new Set<string>();
  for (const record of records) {
    for (const value of [record.sourceIp, record.userAgent, ...Object.values(record.metadata)]) {
      const id = sealedKeyId(value);
      if (id !== null) ids.add(id);
    }
  }
  return [...ids];
}
