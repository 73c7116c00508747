/**
 * Checks a CEL condition against the documented variable schema (variables.ts),
 * because `@bufbuild/cel` 0.6.1 exports no type checker: `principal.rolez`
 * parses, plans, and only fails (closed) when a call evaluates it.
 *
 * The check walks the parsed syntax tree once and infers a coarse type for
 * each node from the schema, literals and the standard library. It reports
 * only what is certainly wrong, so a condition it accepts may still fail at
 * run time on data (an absent argument, say), never the reverse:
 * - an identifier that is not a variable (nor a comprehension variable or a
 *   type name): ERROR;
 * - a field selected (`.f`, `["f"]`) on a documented variable that the schema
 *   does not list: ERROR (WARNING under `has()`, which is then always false);
 * - a field selected on a value that has none (a string, a list, a time): ERROR;
 * - a comparison, `in`, arithmetic or standard method whose operand types are
 *   both known and have no overload (`principal.id == 1`, `principal.roles.contains("x")`,
 *   `request.time > 5`): ERROR; comparing a documented field with `null`: WARNING;
 * - a condition whose own type is known and is not a bool: ERROR.
 * Anything typed `dyn` (the call's arguments, map values of unknown shape)
 * is never reported.
 *
 * Positions are 1-based line and column within the condition, counted in
 * UTF-16 code units as the parser's offsets are.
 */
import { parse } from "@bufbuild/cel";
import { conditionPosition } from "./engine.ts";
import { POLICY_VARIABLES } from "./variables.ts";

/** One finding of {@link checkConditionSchema}. */
export interface SchemaIssue {
  readonly severity: "ERROR" | "WARNING";
  readonly message: string;
  /** 1-based line within the condition. */
  readonly line: number;
  /** 1-based column within the line. */
  readonly column: number;
}

type ParsedExpr = ReturnType<typeof parse>;
type Expr = ParsedExpr["expr"];

/** The coarse types the check reasons with. */
type CelKind = "dyn" | "bool" | "int" | "uint" | "double" | "string" | "bytes" | "null" | "timestamp" | "duration" | "type";
type CelType =
  | { readonly kind: CelKind }
  | { readonly kind: "list"; readonly elem: CelType }
  | { readonly kind: "map"; readonly value: CelType }
  /** A documented variable (or nested group) whose fields are closed. */
  | { readonly kind: "object"; readonly path: string; readonly fields: ReadonlyMap<string, CelType> };

const DYN: CelType = { kind: "dyn" };
const BOOL: CelType = { kind: "bool" };
const INT: CelType = { kind: "int" };
const STRING: CelType = { kind: "string" };
const TYPE: CelType = { kind: "type" };

/** Identifiers that name types (`type(x) == string`) or namespaces (`google.protobuf.Timestamp`). */
const TYPE_IDENTIFIERS = new Set(["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn", "google"]);
const NUMERIC = new Set(["int", "uint", "double"]);
const ORDERED = new Set(["int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration"]);
const STRING_METHODS = new Set(["contains", "startsWith", "endsWith", "matches"]);
const TIME_METHODS = new Set(["getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds"]);
/** Of the time accessors, those a duration has too. */
const DURATION_METHODS = new Set(["getHours", "getMinutes", "getSeconds", "getMilliseconds"]);
const CONVERSIONS: Readonly<Record<string, CelType>> = {
  int: INT,
  uint: { kind: "uint" },
  double: { kind: "double" },
  string: STRING,
  bool: BOOL,
  bytes: { kind: "bytes" },
  timestamp: { kind: "timestamp" },
  duration: { kind: "duration" },
  type: TYPE,
  dyn: DYN,
};

/** The variables of schema version 1 as types, built once from POLICY_VARIABLES. */
const VARIABLES: ReadonlyMap<string, CelType> = buildVariables();

function buildVariables(): ReadonlyMap<string, CelType> {
  const documented = new Map(POLICY_VARIABLES.map((variable) => [variable.path, variable.type]));
  const children = new Map<string, string[]>();
  for (const path of documented.keys()) {
    const dot = path.lastIndexOf(".");
    if (dot < 0) continue;
    const parent = path.slice(0, dot);
    children.set(parent, [...(children.get(parent) ?? []), path]);
  }
  const typeOfPath = (path: string): CelType => {
    const kids = children.get(path);
    if (kids !== undefined) {
      return { kind: "object", path, fields: new Map(kids.map((kid) => [kid.slice(path.length + 1), typeOfPath(kid)])) };
    }
    return parseTypeName(documented.get(path) ?? "dyn");
  };
  return new Map([...documented.keys()].filter((path) => !path.includes(".")).map((path) => [path, typeOfPath(path)]));
}

function parseTypeName(name: string): CelType {
  const text = name.replaceAll(" ", "");
  if (text === "google.protobuf.Timestamp") return { kind: "timestamp" };
  if (text === "google.protobuf.Duration") return { kind: "duration" };
  const list = /^list\((.+)\)$/.exec(text);
  if (list !== null) return { kind: "list", elem: parseTypeName(list[1] ?? "dyn") };
  const map = /^map\([^,]+,(.+)\)$/.exec(text);
  if (map !== null) return { kind: "map", value: parseTypeName(map[1] ?? "dyn") };
  const scalar = CONVERSIONS[text];
  return scalar ?? DYN;
}

/**
 * Checks a CEL condition against the policy variable schema.
 *
 * @param condition - The condition text.
 * @returns Every issue found, in source order; empty when the condition does
 *   not parse (syntax errors are the engine's to report, with their position).
 *
 * @example
 * checkConditionSchema('"admin" in principal.rolez');
 * // [{ severity: "ERROR", message: 'principal has no field "rolez" (did you mean "roles"?); its fields are …', line: 1, column: 22 }]
 */
export function checkConditionSchema(condition: string): SchemaIssue[] {
  let parsed: ParsedExpr;
  try {
    parsed = parse(condition);
  } catch {
    return [];
  }
  const checker = new Checker(condition, parsed);
  const type = checker.walk(parsed.expr, new Map());
  if (isKnown(type) && type.kind !== "bool") {
    checker.report("ERROR", `the condition must evaluate to a bool, but it is ${describe(type)}`, checker.start(parsed.expr));
  }
  return checker.issues();
}

class Checker {
  readonly #source: string;
  readonly #positions: Readonly<Record<string, number>>;
  readonly #macros: Readonly<Record<string, Expr>>;
  readonly #found: { offset: number; issue: SchemaIssue }[] = [];

  constructor(source: string, parsed: ParsedExpr) {
    this.#source = source;
    this.#positions = parsed.sourceInfo?.positions ?? {};
    this.#macros = parsed.sourceInfo?.macroCalls ?? {};
  }

  issues(): SchemaIssue[] {
    const seen = new Set<string>();
    return this.#found
      .sort((a, b) => a.offset - b.offset)
      .map((entry) => entry.issue)
      .filter((issue) => {
        const key = `${issue.line}:${issue.column}:${issue.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
  }

  report(severity: SchemaIssue["severity"], message: string, offset: number): void {
    const { line, column } = conditionPosition(this.#source, offset);
    this.#found.push({ offset, issue: { severity, message, line, column } });
  }

  /** The offset the parser recorded for a node. */
  position(expr: Expr): number {
    return this.#positions[String(expr.id)] ?? 0;
  }

  /** Where the text of a node begins: the smallest offset in its subtree. */
  start(expr: Expr): number {
    let least = this.position(expr);
    const kind = expr.exprKind;
    const visit = (child: Expr | undefined): void => {
      if (child !== undefined) least = Math.min(least, this.start(child));
    };
    switch (kind.case) {
      case "selectExpr":
        visit(kind.value.operand);
        break;
      case "callExpr":
        visit(kind.value.target);
        kind.value.args.forEach(visit);
        break;
      case "listExpr":
        kind.value.elements.forEach(visit);
        break;
      case "comprehensionExpr":
        visit(kind.value.iterRange);
        break;
      case "structExpr":
      case "constExpr":
      case "identExpr":
      case undefined:
        break;
    }
    return least;
  }

  walk(expr: Expr, locals: ReadonlyMap<string, CelType>): CelType {
    const kind = expr.exprKind;
    switch (kind.case) {
      case "constExpr":
        return constantType(kind.value.constantKind.case);
      case "identExpr":
        return this.#identifier(expr, kind.value.name, locals);
      case "selectExpr": {
        const operand = kind.value.operand;
        if (operand === undefined) return DYN;
        return this.#select(expr, operand, kind.value.field, kind.value.testOnly, locals);
      }
      case "callExpr":
        return this.#call(expr, kind.value.function, kind.value.target, kind.value.args, locals);
      case "listExpr": {
        const elements = kind.value.elements.map((element) => this.walk(element, locals));
        const first = elements[0];
        return { kind: "list", elem: first !== undefined && elements.every((element) => sameType(element, first)) ? first : DYN };
      }
      case "structExpr":
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === "mapKey") this.walk(entry.keyKind.value, locals);
          if (entry.value !== undefined) this.walk(entry.value, locals);
        }
        return kind.value.messageName === "" ? { kind: "map", value: DYN } : DYN;
      case "comprehensionExpr":
        return this.#comprehension(expr, kind.value, locals);
      case undefined:
        return DYN;
    }
  }

  #identifier(expr: Expr, name: string, locals: ReadonlyMap<string, CelType>): CelType {
    const local = locals.get(name);
    if (local !== undefined) return local;
    const variable = VARIABLES.get(name);
    if (variable !== undefined) return variable;
    if (TYPE_IDENTIFIERS.has(name)) return TYPE;
    // Accumulators of expanded macros (`@result`, `__result__`) are the parser's own.
    if (name.startsWith("@") || name.startsWith("__")) return DYN;
    this.report("ERROR", `unknown variable "${name}"; the variables are ${[...VARIABLES.keys()].join(", ")}`, this.position(expr));
    return DYN;
  }

  #select(expr: Expr, operand: Expr, field: string, testOnly: boolean, locals: ReadonlyMap<string, CelType>): CelType {
    const from = this.walk(operand, locals);
    const at = this.#fieldOffset(expr, operand, field);
    switch (from.kind) {
      case "object": {
        const type = from.fields.get(field);
        if (type !== undefined) return testOnly ? BOOL : type;
        const hint = suggestion(field, [...from.fields.keys()]);
        const known = `its fields are ${[...from.fields.keys()].join(", ")}`;
        if (testOnly) {
          this.report("WARNING", `has(${from.path}.${field}) is always false: ${from.path} has no field "${field}"${hint}; ${known}`, at);
          return BOOL;
        }
        this.report("ERROR", `${from.path} has no field "${field}"${hint}; ${known}`, at);
        return DYN;
      }
      case "map":
        return testOnly ? BOOL : from.value;
      case "dyn":
        return testOnly ? BOOL : DYN;
      case "list":
      case "bool":
      case "int":
      case "uint":
      case "double":
      case "string":
      case "bytes":
      case "null":
      case "timestamp":
      case "duration":
      case "type":
        this.report("ERROR", `${this.#text(operand)} is ${describe(from)}: it has no field "${field}"`, at);
        return testOnly ? BOOL : DYN;
    }
  }

  #call(expr: Expr, fn: string, target: Expr | undefined, args: readonly Expr[], locals: ReadonlyMap<string, CelType>): CelType {
    const receiver = target === undefined ? undefined : this.walk(target, locals);
    const types = args.map((arg) => this.walk(arg, locals));
    const [a = DYN, b = DYN] = types;
    const [left, right] = args;
    switch (fn) {
      case "_&&_":
      case "_||_":
      case "!_":
        args.forEach((arg, index) => this.#expectBool(arg, types[index] ?? DYN, fn === "!_" ? "!" : fn.slice(1, -1)));
        return BOOL;
      case "_==_":
      case "_!=_":
        if (left !== undefined && right !== undefined) this.#checkEquality(expr, left, a, right, b, fn === "_==_" ? "==" : "!=");
        return BOOL;
      case "_<_":
      case "_<=_":
      case "_>_":
      case "_>=_":
        if (left !== undefined && right !== undefined) this.#checkOrdering(expr, left, a, right, b, fn.slice(1, -1));
        return BOOL;
      case "@in":
        if (left !== undefined && right !== undefined) this.#checkIn(left, a, right, b);
        return BOOL;
      case "_[_]":
        return left !== undefined && right !== undefined ? this.#index(left, a, right, b) : DYN;
      case "_?_:_": {
        if (left !== undefined) this.#expectBool(left, a, "?:");
        const [, yes = DYN, no = DYN] = types;
        return sameType(yes, no) ? yes : DYN;
      }
      case "_+_":
      case "_-_":
      case "_*_":
      case "_/_":
      case "_%_":
        return this.#arithmetic(expr, fn.slice(1, -1), left, a, b);
      case "-_":
        return a;
      case "size": {
        const sized = receiver ?? a;
        const node = target ?? left;
        if (node !== undefined && isKnown(sized) && !["string", "bytes", "list", "map", "object"].includes(sized.kind)) {
          this.report("ERROR", `size() needs a string, bytes, list or map, but ${this.#text(node)} is ${describe(sized)}`, this.start(node));
        }
        return INT;
      }
      default:
        break;
    }
    if (target !== undefined && receiver !== undefined) {
      if (STRING_METHODS.has(fn)) {
        if (isKnown(receiver) && receiver.kind !== "string") {
          const advice = receiver.kind === "list" && fn === "contains" && left !== undefined ? `; to test membership write ${this.#text(left)} in ${this.#text(target)}` : "";
          this.report("ERROR", `${fn}() is a string method, but ${this.#text(target)} is ${describe(receiver)}${advice}`, this.start(target));
        } else if (left !== undefined && isKnown(a) && a.kind !== "string") {
          this.report("ERROR", `${fn}() takes a string, not ${describe(a)}`, this.start(left));
        }
        return BOOL;
      }
      if (TIME_METHODS.has(fn)) {
        const fits = receiver.kind === "timestamp" || (receiver.kind === "duration" && DURATION_METHODS.has(fn));
        if (isKnown(receiver) && !fits) {
          this.report("ERROR", `${fn}() needs a ${DURATION_METHODS.has(fn) ? "timestamp or duration" : "timestamp"}, but ${this.#text(target)} is ${describe(receiver)}`, this.start(target));
        } else if (left !== undefined && isKnown(a) && a.kind !== "string") {
          this.report("ERROR", `${fn}() takes a time zone name (a string), not ${describe(a)}`, this.start(left));
        }
        return INT;
      }
      return DYN;
    }
    return CONVERSIONS[fn] ?? DYN;
  }

  #comprehension(expr: Expr, comprehension: Extract<Expr["exprKind"], { case: "comprehensionExpr" }>["value"], locals: ReadonlyMap<string, CelType>): CelType {
    const range = comprehension.iterRange === undefined ? DYN : this.walk(comprehension.iterRange, locals);
    if (comprehension.accuInit !== undefined) this.walk(comprehension.accuInit, locals);
    const element = range.kind === "list" ? range.elem : range.kind === "map" || range.kind === "object" ? STRING : DYN;
    if (comprehension.iterRange !== undefined && isKnown(range) && !["list", "map", "object"].includes(range.kind)) {
      this.report("ERROR", `${this.#text(comprehension.iterRange)} is ${describe(range)}: only a list or a map can be iterated`, this.start(comprehension.iterRange));
    }
    const inner = new Map(locals);
    inner.set(comprehension.accuVar, DYN);
    const outer = new Map(inner);
    inner.set(comprehension.iterVar, element);
    if (comprehension.iterVar2 !== "") inner.set(comprehension.iterVar2, DYN);
    if (comprehension.loopCondition !== undefined) this.walk(comprehension.loopCondition, inner);
    if (comprehension.loopStep !== undefined) this.walk(comprehension.loopStep, inner);
    if (comprehension.result !== undefined) this.walk(comprehension.result, outer);
    const macro = this.#macros[String(expr.id)]?.exprKind;
    const name = macro?.case === "callExpr" ? macro.value.function : "";
    if (name === "all" || name === "exists" || name === "exists_one" || name === "existsOne") return BOOL;
    if (name === "map" || name === "filter") return { kind: "list", elem: DYN };
    return DYN;
  }

  #expectBool(node: Expr, type: CelType, operator: string): void {
    if (isKnown(type) && type.kind !== "bool") this.report("ERROR", `the operand of ${operator} must be a bool, but ${this.#text(node)} is ${describe(type)}`, this.start(node));
  }

  #checkEquality(expr: Expr, left: Expr, a: CelType, right: Expr, b: CelType, operator: string): void {
    if (!isKnown(a) || !isKnown(b)) return;
    if (a.kind === "null" || b.kind === "null") {
      const [field, type] = a.kind === "null" ? [right, b] : [left, a];
      if (type.kind !== "null") this.report("WARNING", `${this.#text(field)} is ${describe(type)} and is never null, so ${operator} null is always ${operator === "==" ? "false" : "true"}`, this.start(field));
      return;
    }
    if (comparable(a, b)) return;
    const blamed = this.#blame(left, right);
    this.report("ERROR", `${this.#text(left)} ${operator} ${this.#text(right)} compares ${describe(a)} with ${describe(b)}: it is always ${operator === "==" ? "false" : "true"}`, blamed ?? this.start(expr));
  }

  #checkOrdering(expr: Expr, left: Expr, a: CelType, right: Expr, b: CelType, operator: string): void {
    if (!isKnown(a) || !isKnown(b)) return;
    const ordered = (type: CelType) => ORDERED.has(type.kind);
    if (ordered(a) && ordered(b) && comparable(a, b)) return;
    const blamed = this.#blame(left, right);
    this.report("ERROR", `${this.#text(left)} ${operator} ${this.#text(right)} has no overload for ${describe(a)} and ${describe(b)}; the condition would fail (and deny) on every call`, blamed ?? this.start(expr));
  }

  #checkIn(left: Expr, a: CelType, right: Expr, b: CelType): void {
    if (!isKnown(b)) return;
    if (b.kind === "list") {
      if (isKnown(a) && isKnown(b.elem) && !comparable(a, b.elem)) {
        this.report("ERROR", `${this.#text(right)} holds ${plural(b.elem)}, so ${this.#text(left)} (${describe(a)}) is never in it`, this.start(left));
      }
      return;
    }
    if (b.kind === "map" || b.kind === "object") {
      if (isKnown(a) && a.kind !== "string") this.report("ERROR", `${this.#text(right)} has string keys, so ${this.#text(left)} (${describe(a)}) is never in it`, this.start(left));
      return;
    }
    this.report("ERROR", `"in" needs a list or a map, but ${this.#text(right)} is ${describe(b)}`, this.start(right));
  }

  #index(operand: Expr, container: CelType, key: Expr, keyType: CelType): CelType {
    switch (container.kind) {
      case "object": {
        const constant = key.exprKind.case === "constExpr" && key.exprKind.value.constantKind.case === "stringValue" ? key.exprKind.value.constantKind.value : null;
        if (constant === null) return DYN;
        const type = container.fields.get(constant);
        if (type !== undefined) return type;
        this.report("ERROR", `${container.path} has no field "${constant}"${suggestion(constant, [...container.fields.keys()])}; its fields are ${[...container.fields.keys()].join(", ")}`, this.position(key));
        return DYN;
      }
      case "map":
        if (isKnown(keyType) && keyType.kind !== "string") this.report("ERROR", `${this.#text(operand)} has string keys, not ${describe(keyType)}`, this.start(key));
        return container.value;
      case "list":
        if (isKnown(keyType) && !NUMERIC.has(keyType.kind)) this.report("ERROR", `a list is indexed by an int, not ${describe(keyType)}`, this.start(key));
        return container.elem;
      case "dyn":
        return DYN;
      case "bool":
      case "int":
      case "uint":
      case "double":
      case "string":
      case "bytes":
      case "null":
      case "timestamp":
      case "duration":
      case "type":
        this.report("ERROR", `${this.#text(operand)} is ${describe(container)}: it cannot be indexed`, this.start(operand));
        return DYN;
    }
  }

  #arithmetic(expr: Expr, operator: string, left: Expr | undefined, a: CelType, b: CelType): CelType {
    if (!isKnown(a) || !isKnown(b)) return DYN;
    const result = arithmeticResult(operator, a, b);
    if (result === null) {
      this.report("ERROR", `${operator} has no overload for ${describe(a)} and ${describe(b)}; the condition would fail (and deny) on every call`, left === undefined ? this.position(expr) : this.start(left));
      return DYN;
    }
    return result;
  }

  /** Of two operands, the one to point at: a literal, when one side is a literal. */
  #blame(left: Expr, right: Expr): number | null {
    if (right.exprKind.case === "constExpr") return this.start(right);
    if (left.exprKind.case === "constExpr") return this.start(left);
    return null;
  }

  /** Where a selected field's name begins: the first occurrence after its operand's text. */
  #fieldOffset(expr: Expr, operand: Expr, field: string): number {
    const found = this.#source.indexOf(field, this.#end(operand));
    return found >= 0 ? found : this.position(expr);
  }

  /** A node's source text, shortened, for messages. */
  #text(expr: Expr): string {
    const start = this.start(expr);
    const end = this.#end(expr);
    const text = this.#source.slice(start, Math.max(start + 1, end)).trim();
    return text.length > 48 ? `${text.slice(0, 47)}…` : text;
  }

  #end(expr: Expr): number {
    const kind = expr.exprKind;
    switch (kind.case) {
      case "identExpr":
        return this.position(expr) + kind.value.name.length;
      case "selectExpr": {
        const operand = kind.value.operand;
        const at = operand === undefined ? this.position(expr) : this.#fieldOffset(expr, operand, kind.value.field);
        return at + kind.value.field.length + (kind.value.testOnly ? 1 : 0);
      }
      case "constExpr":
        return literalEnd(this.#source, this.position(expr));
      case "callExpr": {
        const last = kind.value.args.at(-1);
        const tail = last === undefined ? this.position(expr) : this.#end(last);
        // A call written f(x) or x.f(y) ends at its closing parenthesis.
        if (!kind.value.function.startsWith("_") && !kind.value.function.startsWith("@") && kind.value.function !== "!_" && kind.value.function !== "-_") {
          const close = this.#source.indexOf(")", tail);
          return close < 0 ? tail : close + 1;
        }
        if (kind.value.function === "_[_]") {
          const close = this.#source.indexOf("]", tail);
          return close < 0 ? tail : close + 1;
        }
        return tail;
      }
      case "listExpr": {
        const close = this.#source.indexOf("]", kind.value.elements.length === 0 ? this.position(expr) : this.#end(kind.value.elements.at(-1) as Expr));
        return close < 0 ? this.position(expr) + 1 : close + 1;
      }
      case "comprehensionExpr": {
        const close = this.#source.indexOf(")", this.position(expr));
        return close < 0 ? this.position(expr) + 1 : close + 1;
      }
      case "structExpr": {
        const close = this.#source.indexOf("}", this.position(expr));
        return close < 0 ? this.position(expr) + 1 : close + 1;
      }
      case undefined:
        return this.position(expr) + 1;
    }
  }
}

function constantType(kind: string | undefined): CelType {
  switch (kind) {
    case "boolValue":
      return BOOL;
    case "int64Value":
      return INT;
    case "uint64Value":
      return { kind: "uint" };
    case "doubleValue":
      return { kind: "double" };
    case "stringValue":
      return STRING;
    case "bytesValue":
      return { kind: "bytes" };
    case "nullValue":
      return { kind: "null" };
    case "durationValue":
      return { kind: "duration" };
    case "timestampValue":
      return { kind: "timestamp" };
    case undefined:
    default:
      return DYN;
  }
}

/** Where a literal ends: after its closing quote, or after its last word character. */
function literalEnd(source: string, start: number): number {
  let at = start;
  if (source[at] === "b" || source[at] === "r" || source[at] === "B" || source[at] === "R") at += 1;
  const quote = source[at];
  if (quote === '"' || quote === "'") {
    for (let i = at + 1; i < source.length; i++) {
      if (source[i] === "\\") i += 1;
      else if (source[i] === quote) return i + 1;
    }
    return source.length;
  }
  const match = /^[-+]?[0-9A-Za-z_.]+/.exec(source.slice(start));
  return start + (match?.[0].length ?? 1);
}

function isKnown(type: CelType): boolean {
  return type.kind !== "dyn" && type.kind !== "type";
}

function sameType(a: CelType, b: CelType): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "list" && b.kind === "list") return sameType(a.elem, b.elem);
  if (a.kind === "map" && b.kind === "map") return sameType(a.value, b.value);
  if (a.kind === "object" && b.kind === "object") return a.path === b.path;
  return true;
}

/** Whether values of two types can ever be equal (numbers compare across int, uint and double). */
function comparable(a: CelType, b: CelType): boolean {
  if (!isKnown(a) || !isKnown(b)) return true;
  if (NUMERIC.has(a.kind) && NUMERIC.has(b.kind)) return true;
  const mapLike = (type: CelType) => type.kind === "map" || type.kind === "object";
  if (mapLike(a) && mapLike(b)) return true;
  if (a.kind === "list" && b.kind === "list") return comparable(a.elem, b.elem);
  return a.kind === b.kind;
}

function arithmeticResult(operator: string, a: CelType, b: CelType): CelType | null {
  const kinds = `${a.kind},${b.kind}`;
  if (a.kind === b.kind && NUMERIC.has(a.kind)) return operator === "%" && a.kind === "double" ? null : a;
  switch (operator) {
    case "+":
      if (kinds === "string,string" || kinds === "bytes,bytes" || kinds === "duration,duration") return a;
      if (a.kind === "list" && b.kind === "list") return sameType(a, b) ? a : { kind: "list", elem: DYN };
      if (kinds === "timestamp,duration" || kinds === "duration,timestamp") return { kind: "timestamp" };
      return null;
    case "-":
      if (kinds === "timestamp,timestamp") return { kind: "duration" };
      if (kinds === "timestamp,duration") return { kind: "timestamp" };
      if (kinds === "duration,duration") return a;
      return null;
    default:
      return null;
  }
}

function describe(type: CelType): string {
  switch (type.kind) {
    case "list":
      return isKnown(type.elem) ? `a list of ${plural(type.elem)}` : "a list";
    case "map":
    case "object":
      return "a map";
    case "int":
      return "an int";
    case "uint":
      return "a uint";
    case "null":
      return "null";
    case "timestamp":
      return "a timestamp";
    case "duration":
      return "a duration";
    case "dyn":
    case "bool":
    case "double":
    case "string":
    case "bytes":
    case "type":
      return `a ${type.kind}`;
  }
}

function plural(type: CelType): string {
  return type.kind === "list" || type.kind === "map" || type.kind === "object" ? describe(type) : `${type.kind}s`;
}

/** ` (did you mean "roles"?)` for a near miss, else nothing. */
function suggestion(field: string, known: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(field.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(field.length / 3)) ? ` (did you mean "${best}"?)` : "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
