/**
 * The variables a policy condition can read: schema version "1".
 *
 * This schema is a contract with every policy author; changing a name or a
 * type breaks written policies, so such a change is a new version (see
 * docs/adr/0007-authorization-model.md). Adding a field is compatible.
 *
 * Choices worth knowing when writing conditions:
 * - Times are CEL `google.protobuf.Timestamp` values (`request.time`,
 *   `session.created_at`), so `request.time.getHours()` (UTC) or
 *   `request.time.getHours("Europe/Paris")` and `request.time - session.created_at
 *   > duration("1h")` work directly.
 * - Argument numbers are CEL `double` (as JSON, and as `google.protobuf.Value`):
 *   comparisons with integer literals work (`args.amount < 1000`), arithmetic
 *   wants double literals (`args.amount * 2.0`).
 * - Reading a field that is absent is an evaluation error, and errors fail
 *   closed: guard optional arguments with `has(args.x)`.
 * - `principal.roles` are the roles bound to the principal, not expanded by
 *   inheritance; `principal.permissions` are effective (roles with inheritance
 *   plus direct grants).
 */
import { celError, celList, celMap, isCelList, isCelMap, type CelInput } from "@bufbuild/cel";
import { isMessage } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Classification, PrincipalType } from "../records.ts";

/** The version of the variable schema below. */
export const POLICY_VARIABLES_VERSION = "1";

/** Everything a policy decision is made over, as the pipeline knows it. */
export interface PolicyInput {
  /** The action being authorized, e.g. `tools:invoke`; matched against a rule's `actions`. */
  readonly action: string;
  readonly principal: {
    readonly id: string;
    readonly type: PrincipalType;
    /** Roles bound to the principal (not expanded by inheritance). */
    readonly roles: readonly string[];
    /**
     * The bound roles plus every role they inherit, transitively (the tenant's role graph).
     * Absent: the bound roles alone.
     */
    readonly effectiveRoles?: readonly string[];
    /** Effective permissions: roles (with inheritance) plus direct grants. */
    readonly permissions: readonly string[];
    readonly clearance: Classification;
    readonly attributes: Readonly<Record<string, string>>;
    /** Sign-in evidence of the presented token: `amr` (space-separated), `acr`, `idp`, `iat`. */
    readonly claims?: Readonly<Record<string, string>>;
  };
  readonly tenant: { readonly id: string };
  readonly session: { readonly id: string; /** Epoch milliseconds. */ readonly createdAt: number };
  readonly contract: {
    readonly name: string;
    readonly version: string;
    readonly classification: Classification;
    readonly complianceTags: readonly string[];
    readonly risk: "LOW" | "MEDIUM" | "HIGH";
    readonly requiredRoles: readonly string[];
  };
  /** The call's arguments, already validated as plain JSON. */
  readonly args: Readonly<Record<string, unknown>>;
  readonly request: {
    /** Decision time, epoch milliseconds (from the Clock port). */
    readonly timeMs: number;
    readonly sourceIp: string;
    readonly userAgent: string;
    readonly correlationId: string;
  };
}

/** The CEL bindings of one decision, built once and shared by every policy evaluated. */
export type PolicyActivation = Readonly<Record<string, CelInput>>;

/** One documented variable or field. */
export interface VariableDoc {
  /** Dotted path as written in a condition, e.g. `request.time`. */
  readonly path: string;
  /** CEL type. */
  readonly type: string;
  readonly description: string;
  readonly example: string;
}

/** The variable schema, in the order the reference lists it. */
export const POLICY_VARIABLES: readonly VariableDoc[] = [
  { path: "principal", type: "map(string, dyn)", description: "The caller.", example: "" },
  { path: "principal.id", type: "string", description: "Principal identifier.", example: `principal.id == "svc-reporting"` },
  { path: "principal.type", type: "string", description: "`USER`, `SERVICE_ACCOUNT` or `SYSTEM_ACCOUNT`.", example: `principal.type == "USER"` },
  { path: "principal.roles", type: "list(string)", description: "Roles bound to the principal, not expanded by inheritance.", example: `"finance" in principal.roles` },
  { path: "principal.effective_roles", type: "list(string)", description: "The bound roles plus every role they inherit, transitively: the role-inheritance check.", example: `"approver" in principal.effective_roles` },
  { path: "principal.permissions", type: "list(string)", description: "Effective permissions: the roles' (with inheritance) plus direct grants, as granted (wildcards unexpanded).", example: `"audit:read" in principal.permissions` },
  { path: "principal.clearance", type: "string", description: "`public`, `internal`, `confidential` or `restricted`.", example: `principal.clearance in ["confidential", "restricted"]` },
  { path: "principal.attributes", type: "map(string, string)", description: "Directory attributes of the principal (department, cost centre, …).", example: `principal.attributes["department"] == "finance"` },
  { path: "principal.claims", type: "map(string, string)", description: "Sign-in evidence of the token: `amr` (RFC 8176 methods, space-separated), `acr`, `idp` (identity provider id) and `iat`; a key is absent when the sign-in gave none.", example: `principal.claims["idp"] == "corp-okta"` },
  { path: "principal.mfa", type: "bool", description: "True when the sign-in used more than one factor (`amr` contains `mfa`, `otp`, `hwk`, `sc`, `swk` or `fido`).", example: `contract.risk != "HIGH" || principal.mfa` },
  { path: "tenant", type: "map(string, dyn)", description: "The tenant the call runs in.", example: "" },
  { path: "tenant.id", type: "string", description: "Tenant identifier.", example: `tenant.id == "acme"` },
  { path: "session", type: "map(string, dyn)", description: "The session the call belongs to.", example: "" },
  { path: "session.id", type: "string", description: "Session identifier.", example: `session.id != ""` },
  { path: "session.created_at", type: "google.protobuf.Timestamp", description: "When the session was created.", example: `request.time - session.created_at < duration("8h")` },
  { path: "contract", type: "map(string, dyn)", description: "The contract version being invoked.", example: "" },
  { path: "contract.name", type: "string", description: "Contract (tool) name.", example: `contract.name == "transfer_funds"` },
  { path: "contract.version", type: "string", description: "SemVer contract version.", example: `contract.version.startsWith("2.")` },
  { path: "contract.classification", type: "string", description: "Security classification of the contract.", example: `contract.classification == "restricted"` },
  { path: "contract.compliance_tags", type: "list(string)", description: "Compliance tags of the contract.", example: `"PCI" in contract.compliance_tags` },
  { path: "contract.risk", type: "string", description: "`LOW`, `MEDIUM` or `HIGH`.", example: `contract.risk == "HIGH"` },
  { path: "contract.required_roles", type: "list(string)", description: "Roles the contract requires (any one of them).", example: `size(contract.required_roles) > 0` },
  { path: "args", type: "map(string, dyn)", description: "The call's arguments as JSON: objects are maps, arrays lists, numbers `double`.", example: `has(args.amount) && args.amount < 1000` },
  { path: "request", type: "map(string, dyn)", description: "The request being decided.", example: "" },
  { path: "request.time", type: "google.protobuf.Timestamp", description: "Decision time (the Host's clock).", example: `request.time.getHours() >= 9 && request.time.getHours() < 17` },
  { path: "request.action", type: "string", description: "The action being authorized, e.g. `tools:invoke`.", example: `request.action == "tools:invoke"` },
  { path: "request.source_ip", type: "string", description: "Client address as seen by the gateway.", example: `request.source_ip.startsWith("10.")` },
  { path: "request.user_agent", type: "string", description: "Client user agent.", example: `!request.user_agent.contains("curl")` },
  { path: "request.correlation_id", type: "string", description: "Correlation id of the request.", example: `request.correlation_id != ""` },
];

/**
 * Maps a typed policy input to CEL bindings. Each variable is built on first
 * read and then reused by every policy of the decision, so a decision pays
 * only for the variables its conditions mention; objects are exposed as
 * read-only views, never copied.
 *
 * @param input - The decision input.
 * @returns Bindings for the variables `principal`, `tenant`, `session`, `contract`, `args`, `request`.
 */
export function buildActivation(input: PolicyInput): PolicyActivation {
  return new LazyActivation(input) as unknown as PolicyActivation;
}

/**
 * The bindings of one decision. CEL reads a variable as a property, so each
 * variable is a memoised getter: built on first read, shared afterwards.
 * (Any other identifier a condition names resolves to something CEL cannot
 * use or to nothing, which is an evaluation error and fails closed.)
 */
class LazyActivation {
  readonly #input: PolicyInput;
  #principal: CelInput | undefined;
  #tenant: CelInput | undefined;
  #session: CelInput | undefined;
  #contract: CelInput | undefined;
  #args: CelInput | undefined;
  #request: CelInput | undefined;

  constructor(input: PolicyInput) {
    this.#input = input;
  }

  get principal(): CelInput {
    const { principal } = this.#input;
    return (this.#principal ??= view({
      id: principal.id,
      type: principal.type,
      roles: celList(principal.roles),
      effective_roles: celList(principal.effectiveRoles ?? principal.roles),
      permissions: celList(principal.permissions),
      clearance: principal.clearance,
      attributes: view(principal.attributes),
      claims: view(principal.claims ?? {}),
      mfa: hasMultiFactorEvidence(principal.claims?.["amr"] ?? ""),
    }));
  }

  get tenant(): CelInput {
    return (this.#tenant ??= view({ id: this.#input.tenant.id }));
  }

  get session(): CelInput {
    const { session } = this.#input;
    return (this.#session ??= view({ id: session.id, created_at: timestampFromMs(session.createdAt) }));
  }

  get contract(): CelInput {
    const { contract } = this.#input;
    return (this.#contract ??= view({
      name: contract.name,
      version: contract.version,
      classification: contract.classification,
      compliance_tags: celList(contract.complianceTags),
      risk: contract.risk,
      required_roles: celList(contract.requiredRoles),
    }));
  }

  get args(): CelInput {
    return (this.#args ??= jsonView(this.#input.args));
  }

  get request(): CelInput {
    const { request } = this.#input;
    return (this.#request ??= view({
      time: timestampFromMs(request.timeMs),
      action: this.#input.action,
      source_ip: request.sourceIp,
      user_agent: request.userAgent,
      correlation_id: request.correlationId,
    }));
  }
}

const multiFactorMethods = new Set(["mfa", "otp", "hwk", "sc", "swk", "fido"]);

/** True when an `amr` list (space-separated) names a multi-factor method. */
export function hasMultiFactorEvidence(amr: string): boolean {
  return amr.split(" ").some((method) => multiFactorMethods.has(method));
}

/** A CEL map over a plain object, without copying it into a `Map`. */
function view(fields: Readonly<Record<string, unknown>>): CelInput {
  return celMap(new RecordView(fields));
}

/**
 * A CEL map over a JSON object (the call's arguments, at any depth). @bufbuild/cel's map answers
 * has(key) as get(key) != undefined, so a key whose value is JSON null would read as absent to
 * has() and "in": this map asks the view, which knows present from absent. Only JSON can hold
 * null, so the other variables keep the plain (cheaper) map.
 */
function jsonView(fields: Readonly<Record<string, unknown>>): CelInput {
  const record = new RecordView(fields);
  const map = celMap(record);
  const inherited = map.has.bind(map);
  Object.defineProperty(map, "has", { value: (key: unknown) => (typeof key === "string" ? record.has(key) : inherited(key as never)), enumerable: false });
  return map;
}

/**
 * A read-only `Map` face over a JSON object. Only own properties are visible,
 * so `args.constructor` is absent rather than `Object`; nested objects and
 * arrays become CEL maps and lists on first read and are then reused.
 */
class RecordView implements ReadonlyMap<string, CelInput> {
  readonly #fields: Readonly<Record<string, unknown>>;
  #converted: Map<string, CelInput> | undefined;

  constructor(fields: Readonly<Record<string, unknown>>) {
    this.#fields = fields;
  }

  get size(): number {
    let count = 0;
    for (const key of Object.keys(this.#fields)) if (this.#fields[key] !== undefined) count += 1;
    return count;
  }

  get(key: string): CelInput | undefined {
    if (typeof key !== "string" || !Object.hasOwn(this.#fields, key)) return undefined;
    const raw = this.#fields[key];
    if (typeof raw !== "object" || raw === null || isCelValue(raw)) return toCelScalar(raw);
    let converted = this.#converted?.get(key);
    if (converted === undefined) {
      converted = Array.isArray(raw) ? listWithinBudget(raw) : jsonView(raw as Record<string, unknown>);
      (this.#converted ??= new Map()).set(key, converted);
    }
    return converted;
  }

  has(key: string): boolean {
    return typeof key === "string" && Object.hasOwn(this.#fields, key) && this.#fields[key] !== undefined;
  }

  forEach(callback: (value: CelInput, key: string, map: ReadonlyMap<string, CelInput>) => void): void {
    for (const key of this.keys()) callback(this.get(key) ?? null, key, this);
  }

  *entries(): MapIterator<[string, CelInput]> {
    for (const key of this.keys()) yield [key, this.get(key) ?? null];
  }

  *keys(): MapIterator<string> {
    for (const key of Object.keys(this.#fields)) {
      if (this.#fields[key] !== undefined) yield key;
    }
  }

  *values(): MapIterator<CelInput> {
    for (const key of this.keys()) yield this.get(key) ?? null;
  }

  [Symbol.iterator](): MapIterator<[string, CelInput]> {
    return this.entries();
  }
}

function toCelJson(value: unknown): CelInput {
  if (typeof value !== "object" || value === null || isCelValue(value)) return toCelScalar(value);
  return Array.isArray(value) ? listWithinBudget(value) : jsonView(value as Record<string, unknown>);
}

/**
 * The most elements a list argument may have for a policy to read it. With comprehensions nested
 * at most `MAX_COMPREHENSION_NESTING` (compile.ts) deep, this bounds a condition's work; a policy that
 * reads a longer list fails closed (POLICY_EVALUATION_FAILED), naming the cost limit.
 */
export const MAX_POLICY_LIST_ELEMENTS = 1000;

function listWithinBudget(items: readonly unknown[]): CelInput {
  if (items.length > MAX_POLICY_LIST_ELEMENTS) {
    return celError(`cost limit: a list of ${items.length} elements is longer than the ${MAX_POLICY_LIST_ELEMENTS} a policy may read`) as unknown as CelInput;
  }
  return celList(items.map(toCelJson));
}

function toCelScalar(value: unknown): CelInput {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "number":
    case "bigint":
      return value;
    case "object":
      // Already a CEL value (list, map, timestamp) or null.
      return value as CelInput;
    case "undefined":
    case "function":
    case "symbol":
      return null;
  }
}

function isCelValue(value: object): boolean {
  return isCelList(value) || isCelMap(value) || isMessage(value);
}

/**
 * Renders the variable schema as Markdown for `docs/reference/`.
 *
 * @returns A Markdown section: heading, version, the semantics notes and one table row per variable.
 */
export function renderPolicyVariablesMarkdown(): string {
  const escape = (text: string): string => text.replaceAll("|", "\\|");
  const rows = POLICY_VARIABLES.map(
    (variable) => `| \`${variable.path}\` | \`${escape(variable.type)}\` | ${escape(variable.description)} | ${variable.example === "" ? "" : `\`${escape(variable.example)}\``} |`,
  );
  return [
    "## Policy variables",
    "",
    `Variable schema version: **${POLICY_VARIABLES_VERSION}**. Conditions are CEL expressions over these variables;`,
    "a condition must evaluate to a `bool`. Reading an absent field is an error and errors fail closed (DENY),",
    "so guard optional arguments with `has(args.name)`. Argument numbers are `double`. Times are",
    "`google.protobuf.Timestamp` values (`getHours()` is UTC unless given a time zone).",
    "",
    "| Variable | CEL type | Meaning | Example |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
