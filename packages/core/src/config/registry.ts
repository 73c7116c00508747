import { EnterpriseError } from "../errors.ts";

/** One configuration key: its type, default and documentation. */
export interface ConfigKey<T extends string | number | boolean = string | number | boolean> {
  readonly type: T extends number ? "integer" : T extends boolean ? "boolean" : "string";
  readonly default: T;
  readonly description: string;
  /** Allowed values for strings. */
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** A value that is fine for a laptop but must be changed in production: warn loudly when in effect. */
  readonly devOnly?: boolean;
  /** Never logged or shown. */
  readonly sensitive?: boolean;
}

/** Where an effective value came from. */
export type ConfigOrigin = "default" | "file" | "env" | "flag";

/** A resolved configuration: values plus the origin of each. */
export interface ResolvedConfig<S extends Record<string, ConfigKey>> {
  readonly values: { readonly [K in keyof S]: S[K]["default"] };
  readonly origins: { readonly [K in keyof S]: ConfigOrigin };
}

/** `gateway.max_request_bytes` → `AESP_GATEWAY_MAX_REQUEST_BYTES`: derived, never hand-written. */
export function envName(key: string): string {
  return `AESP_${key.replace(/[.-]/g, "_").toUpperCase()}`;
}

/**
 * Layers defaults, a config file, environment variables and flags (in that
 * order of precedence, lowest first), rejecting unknown keys and invalid values
 * with a message that names the key and its source.
 *
 * @throws EnterpriseError INVALID_ARGUMENT for an unknown key or a bad value.
 */
export function resolveConfig<S extends Record<string, ConfigKey>>(
  schema: S,
  layers: { file?: Record<string, unknown>; env?: Record<string, string | undefined>; flags?: Record<string, unknown> },
): ResolvedConfig<S> {
  const values: Record<string, unknown> = {};
  const origins: Record<string, ConfigOrigin> = {};
  for (const [key, spec] of Object.entries(schema)) {
    values[key] = spec.default;
    origins[key] = "default";
  }
  const apply = (source: ConfigOrigin, entries: Iterable<[string, unknown]>) => {
    for (const [key, raw] of entries) {
      const spec = schema[key];
      if (spec === undefined) {
        throw new EnterpriseError("INVALID_ARGUMENT", { message: `Unknown configuration key "${key}" (from ${source}).`, details: { key, source } });
      }
      values[key] = coerce(key, spec, raw, source);
      origins[key] = source;
    }
  };
  if (layers.file !== undefined) apply("file", flatten(layers.file));
  if (layers.env !== undefined) {
    const env = layers.env;
    apply(
      "env",
      Object.keys(schema)
        .filter((key) => env[envName(key)] !== undefined && env[envName(key)] !== "")
        .map((key) => [key, env[envName(key)]]),
    );
  }
  if (layers.flags !== undefined) apply("flag", Object.entries(layers.flags).filter(([, v]) => v !== undefined));
  return { values: values as ResolvedConfig<S>["values"], origins: origins as ResolvedConfig<S>["origins"] };
}

/** Flattens `{ gateway: { port: 1 } }` into `gateway.port`. */
function* flatten(object: Record<string, unknown>, prefix = ""): Generator<[string, unknown]> {
  for (const [key, value] of Object.entries(object)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) yield* flatten(value as Record<string, unknown>, path);
    else yield [path, value];
  }
}

function coerce(key: string, spec: ConfigKey, raw: unknown, source: ConfigOrigin): string | number | boolean {
  const bad = (expected: string): never => {
    throw new EnterpriseError("INVALID_ARGUMENT", {
      message: `Configuration key "${key}" (from ${source}) must be ${expected}.`,
      details: { key, source, expected },
    });
  };
  switch (spec.type) {
    case "integer": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n)) return bad("an integer");
      if (spec.min !== undefined && n < spec.min) return bad(`≥ ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) return bad(`≤ ${spec.max}`);
      return n;
    }
    case "boolean": {
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      return bad("true or false");
    }
    case "string": {
      if (typeof raw !== "string" && typeof raw !== "number") return bad("a string");
      const s = String(raw);
      if (spec.enum !== undefined && !spec.enum.includes(s)) return bad(`one of ${spec.enum.join(", ")}`);
      return s;
    }
  }
}

/** Markdown reference of a config schema, for docs/reference/config.md. */
export function renderConfigReference(schema: Record<string, ConfigKey>): string {
  const lines = [
    "# Configuration reference",
    "",
    "<!-- Generated from packages/core/src/config/sections.ts by `npm run generate`. Do not edit. -->",
    "",
    "Precedence, lowest first: default < config file (`--config aesp.yaml`) < environment < command-line flag.",
    "Keys marked *dev only* have defaults fit for a laptop; the Host logs a `MUST change` warning when they are in effect with `mode=production`.",
    "",
    "| Key | Environment | Type | Default | Description |",
    "|---|---|---|---|---|",
  ];
  for (const [key, spec] of Object.entries(schema)) {
    const range = spec.enum !== undefined ? ` (${spec.enum.join(" \\| ")})` : spec.min !== undefined || spec.max !== undefined ? ` (${spec.min ?? ""}..${spec.max ?? ""})` : "";
    const notes = [spec.devOnly === true ? "*dev only*" : "", spec.sensitive === true ? "*sensitive*" : ""].filter(Boolean).join(" ");
    const def = spec.sensitive === true ? "(none)" : `\`${String(spec.default)}\``;
    lines.push(`| \`${key}\` | \`${envName(key)}\` | ${spec.type}${range} | ${def} | ${spec.description} ${notes}`.trimEnd() + " |");
  }
  return lines.join("\n") + "\n";
}
