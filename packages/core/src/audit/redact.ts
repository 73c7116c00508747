/**
 * Redaction applied before an audit event is built, so secrets never enter the
 * append-only log (which cannot be edited afterwards without breaking its chain).
 *
 * Two layers: arguments are redacted by their contract's schema (`secret: true`
 * on any node), metadata by key name. Neither mutates its input.
 */
import type { AdmSchema } from "../records.ts";

/** The value that replaces a secret. */
export const REDACTED = "[REDACTED]";

/** Metadata keys that may carry credentials; their entries are dropped, not masked. */
export const SENSITIVE_METADATA_KEY = /authorization|token|secret|password|api[_-]?key|cookie/i;

/** `token_id`, `keyId`: identifiers of credentials, which audit needs, are not credentials. */
const IDENTIFIER_KEY = /(?:[_-]id|Id|ID)$/;

/** Values that look like bearer credentials are dropped whatever their key. */
const CREDENTIAL_VALUE = /^(bearer|basic)\s/i;

/**
 * A copy of tool-call arguments with every value whose schema node is
 * `secret: true` replaced by {@link REDACTED}, at any depth (object properties
 * and array items). A secret object or array is replaced whole.
 *
 * Values the schema does not describe are kept: arguments are validated
 * (unknown keys refused) before they are audited, so none remain in practice.
 *
 * @param args - Arguments as received (JSON data).
 * @param schema - The contract's parameter schema; `null` keeps everything.
 * @returns A redacted copy sharing no mutable container with `args` along redacted paths.
 */
export function redactArguments(args: unknown, schema: AdmSchema | null): unknown {
  if (schema === null) return args;
  return redactValue(args, schema);
}

/**
 * A copy of an event's metadata without entries that may carry credentials:
 * keys matching {@link SENSITIVE_METADATA_KEY} (unless they name an identifier,
 * `…_id`/`…Id`) and `Bearer …`/`Basic …` values.
 *
 * @param metadata - String map, e.g. request headers or event details.
 * @returns A new map with only safe entries.
 */
export function redactMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const safe: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if ((SENSITIVE_METADATA_KEY.test(key) && !IDENTIFIER_KEY.test(key)) || CREDENTIAL_VALUE.test(value)) continue;
    defineEntry(safe, key, value);
  }
  return safe;
}

/**
 * True when an argument schema marks anything secret, so callers can skip the
 * copy for the common case.
 *
 * @param schema - A parameter schema.
 * @returns Whether any node has `secret: true`.
 */
export function schemaHasSecrets(schema: AdmSchema | null): boolean {
  if (schema === null) return false;
  if (schema.secret === true) return true;
  if (schema.items !== undefined && schemaHasSecrets(schema.items)) return true;
  return Object.values(schema.properties ?? {}).some(schemaHasSecrets);
}

function redactValue(value: unknown, schema: AdmSchema): unknown {
  if (schema.secret === true) return value === null || value === undefined ? value : REDACTED;
  if (Array.isArray(value)) {
    const items = schema.items;
    return items === undefined ? value : value.map((item: unknown) => redactValue(item, items));
  }
  if (typeof value === "object" && value !== null && schema.properties !== undefined) {
    const properties = schema.properties;
    const copy: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) {
      const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
      defineEntry(copy, key, property === undefined ? entry : redactValue(entry, property));
    }
    return copy;
  }
  return value;
}

/** Assignment that treats `__proto__` as data, never as the prototype. */
function defineEntry<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
