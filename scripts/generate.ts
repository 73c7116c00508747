/**
 * Regenerates everything derived from `proto/aesp/v1`: lints the protos, generates the protobuf-es
 * code in `packages/proto/gen`, and writes the API reference `docs/reference/api.md`.
 *
 * Usage: `node scripts/generate.ts` (write) or `node scripts/generate.ts --check` (regenerate into a
 * temporary directory and exit 1, listing the stale files, when the tree differs).
 *
 * The reference is built from the generated descriptors (the `file_aesp_v1_*` exports); only the
 * comments come from `buf build`, because protoc-gen-es strips source info from what it embeds.
 * Implementation status comes from `packages/host/src/gateway/rpc-status.ts` when it exists.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { renderReferenceDocs } from "./reference-docs.ts";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { fromBinary, ScalarType } from "@bufbuild/protobuf";
import type { DescEnum, DescField, DescFile, DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { DescriptorProto, EnumDescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";

const repoRoot = resolve(import.meta.dirname, "..");
const bufBinary = join(repoRoot, "node_modules", ".bin", "buf");
const generatedDir = join("packages", "proto", "gen");
const apiReferencePath = join("docs", "reference", "api.md");
const rpcStatusPath = join("packages", "host", "src", "gateway", "rpc-status.ts");
const protoPackage = "aesp.v1";
/** Reading order of the reference: the planes first, then administration, then the AESP services in seed order. */
const fileOrder = [
  "client", "runtime", "adm", "enterprise", "host", "tenant", "contract", "runtime_admin",
  "authentication", "authorization", "audit", "policy", "cost", "governance", "identity", "configuration",
].map((name) => `aesp/v1/${name}`);

/** Implementation state of one RPC, keyed `aesp.v1.Service/Method` in rpc-status.ts. */
type RpcStatus = "implemented" | "unimplemented";

/** Leading comments of every element of the package, keyed by full name (fields: `Message.field`). */
type CommentIndex = ReadonlyMap<string, string>;

/** A file of the generated code with its descriptor. */
interface GeneratedFile {
  readonly desc: DescFile;
  /** `@aesp/proto/<subpath>` import specifier of the generated module. */
  readonly importPath: string;
}

/** A buf command that failed; buf has already printed its diagnostics. */
class BufFailure extends Error {}

/**
 * Runs buf in the repository root. Diagnostics go to our stdout/stderr unless `captureStdout`,
 * in which case stdout is returned (for `buf build`).
 * @throws BufFailure when buf exits non-zero.
 */
function runBuf(args: readonly string[], captureStdout = false): Buffer {
  try {
    return execFileSync(bufBinary, args, {
      cwd: repoRoot,
      stdio: ["ignore", captureStdout ? "pipe" : "inherit", "inherit"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const status = (error as { status?: number | null }).status;
    throw new BufFailure(`\`buf ${args.join(" ")}\` failed${status == null ? "" : ` (exit ${status})`}`, { cause: error });
  }
}

/** Lists every file below `root`, as sorted paths relative to it. Missing root: none. */
async function listFiles(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

/** Imports every generated module below `genRoot` and returns its `file_aesp_v1_*` descriptors. */
async function loadGeneratedFiles(genRoot: string): Promise<GeneratedFile[]> {
  const packageDir = join(genRoot, ...protoPackage.split("."));
  const modules = (await listFiles(packageDir)).filter((file) => file.endsWith("_pb.js"));
  const files: GeneratedFile[] = [];
  for (const moduleFile of modules) {
    const exports = (await import(pathToFileURL(join(packageDir, moduleFile)).href)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(exports)) {
      if (!exportName.startsWith("file_aesp_v1_")) continue;
      files.push({ desc: value as DescFile, importPath: `@aesp/proto/${moduleFile.slice(0, -"_pb.js".length)}` });
    }
  }
  if (files.length === 0) throw new Error(`no generated descriptors found in ${packageDir}`);
  const rank = (file: GeneratedFile): number => {
    const index = fileOrder.indexOf(file.desc.name);
    return index === -1 ? fileOrder.length : index;
  };
  return files.sort((a, b) => rank(a) - rank(b) || a.desc.name.localeCompare(b.desc.name));
}

/** Reads the leading comments of the package's elements from a `buf build` descriptor set. */
function loadComments(): CommentIndex {
  const set = fromBinary(FileDescriptorSetSchema, runBuf(["build", "--as-file-descriptor-set", "-o", "-#format=binpb"], true));
  const comments = new Map<string, string>();
  for (const file of set.file) {
    if (file.package === protoPackage) indexFileComments(file, comments);
  }
  return comments;
}

function indexFileComments(file: FileDescriptorProto, into: Map<string, string>): void {
  const byPath = new Map<string, string>();
  for (const location of file.sourceCodeInfo?.location ?? []) {
    const text = cleanComment(location.leadingComments ?? "");
    if (text !== "") byPath.set(location.path.join("."), text);
  }
  const at = (path: readonly number[]): string => byPath.get(path.join(".")) ?? "";
  // Descriptor field numbers: FileDescriptorProto.syntax=12, message_type=4, enum_type=5, service=6;
  // DescriptorProto.field=2, nested_type=3, enum_type=4; EnumDescriptorProto.value=2; Service.method=2.
  into.set(`file:${file.name}`, at([12]));
  const indexEnum = (enumProto: EnumDescriptorProto, fullName: string, path: number[]): void => {
    into.set(fullName, at(path));
    enumProto.value.forEach((value, index) => into.set(`${fullName}.${value.name}`, at([...path, 2, index])));
  };
  const indexMessage = (message: DescriptorProto, fullName: string, path: number[]): void => {
    into.set(fullName, at(path));
    message.field.forEach((field, index) => into.set(`${fullName}.${field.name}`, at([...path, 2, index])));
    message.nestedType.forEach((nested, index) => indexMessage(nested, `${fullName}.${nested.name}`, [...path, 3, index]));
    message.enumType.forEach((nested, index) => indexEnum(nested, `${fullName}.${nested.name}`, [...path, 4, index]));
  };
  file.messageType.forEach((message, index) => indexMessage(message, `${protoPackage}.${message.name}`, [4, index]));
  file.enumType.forEach((enumProto, index) => indexEnum(enumProto, `${protoPackage}.${enumProto.name}`, [5, index]));
  file.service.forEach((service, serviceIndex) => {
    const serviceName = `${protoPackage}.${service.name}`;
    into.set(serviceName, at([6, serviceIndex]));
    service.method.forEach((method, index) => into.set(`${serviceName}/${method.name}`, at([6, serviceIndex, 2, index])));
  });
}

/** Joins comment lines into one paragraph, dropping lint directives that mean nothing to readers. */
function cleanComment(raw: string): string {
  return raw
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => !line.startsWith("buf:lint:"))
    .join("\n")
    .trim();
}

/** Reads the implementation status map when the Host has published one; otherwise nothing is implemented. */
async function loadRpcStatus(): Promise<Readonly<Record<string, RpcStatus>>> {
  const path = join(repoRoot, rpcStatusPath);
  if (!existsSync(path)) return {};
  const module = (await import(pathToFileURL(path).href)) as { rpcStatus?: Record<string, RpcStatus> };
  return module.rpcStatus ?? {};
}

const methodKindLabel: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server streaming",
  client_streaming: "client streaming",
  bidi_streaming: "bidirectional streaming",
};

/** Escapes text for one Markdown table cell. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll(/\s*\n\s*/g, " ");
}

function typeLink(typeName: string): string {
  return typeName.startsWith(`${protoPackage}.`) ? `[\`${typeName.slice(protoPackage.length + 1)}\`](#${anchor(typeName)})` : `\`${typeName}\``;
}

function anchor(typeName: string): string {
  return typeName.toLowerCase().replaceAll(".", "-");
}

function scalarName(scalar: ScalarType): string {
  return ScalarType[scalar].toLowerCase();
}

function fieldType(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return `${field.proto.proto3Optional ? "optional " : ""}${scalarName(field.scalar)}`;
    case "enum":
      return typeLink(field.enum.typeName);
    case "message":
      return typeLink(field.message.typeName);
    case "list":
      switch (field.listKind) {
        case "scalar":
          return `repeated ${scalarName(field.scalar)}`;
        case "enum":
          return `repeated ${typeLink(field.enum.typeName)}`;
        case "message":
          return `repeated ${typeLink(field.message.typeName)}`;
      }
      break;
    case "map": {
      const key = scalarName(field.mapKey);
      switch (field.mapKind) {
        case "scalar":
          return `map&lt;${key}, ${scalarName(field.scalar)}&gt;`;
        case "enum":
          return `map&lt;${key}, ${typeLink(field.enum.typeName)}&gt;`;
        case "message":
          return `map&lt;${key}, ${typeLink(field.message.typeName)}&gt;`;
      }
    }
  }
}

function renderService(service: DescService, comments: CommentIndex, status: Readonly<Record<string, RpcStatus>>): string[] {
  const lines = [`### <a id="${anchor(service.typeName)}"></a>${service.typeName}`, ""];
  const description = comments.get(service.typeName) ?? "";
  if (description !== "") lines.push(description, "");
  lines.push("| RPC | Request | Response | Kind | Status | Description |", "|---|---|---|---|---|---|");
  for (const method of service.methods) {
    const key = `${service.typeName}/${method.name}`;
    const implemented = status[key] === "implemented";
    const clientStreams = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
    const serverStreams = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
    lines.push(
      `| \`${method.name}\` | ${clientStreams ? "stream " : ""}${typeLink(method.input.typeName)} | ` +
        `${serverStreams ? "stream " : ""}${typeLink(method.output.typeName)} | ${methodKindLabel[method.methodKind]} | ` +
        `${implemented ? "implemented" : "**UNIMPLEMENTED**"} | ${cell(comments.get(key) ?? "")} |`,
    );
  }
  lines.push("");
  return lines;
}

function renderMessage(message: DescMessage, importPath: string, comments: CommentIndex): string[] {
  const lines = [`### <a id="${anchor(message.typeName)}"></a>${message.typeName}`, ""];
  const description = comments.get(message.typeName) ?? "";
  if (description !== "") lines.push(description, "");
  lines.push(`Schema: \`${message.name}Schema\` from \`${importPath}\`.`, "");
  if (message.fields.length === 0) {
    lines.push("No fields.", "");
  } else {
    lines.push("| Field | Number | Type | Description |", "|---|---|---|---|");
    for (const field of message.fields) {
      const oneof = field.oneof ? ` (oneof \`${field.oneof.name}\`)` : "";
      lines.push(
        `| \`${field.name}\` | ${field.number} | ${fieldType(field)}${oneof} | ${cell(comments.get(`${message.typeName}.${field.name}`) ?? "")} |`,
      );
    }
    lines.push("");
  }
  for (const nested of message.nestedMessages) lines.push(...renderMessage(nested, importPath, comments));
  for (const nested of message.nestedEnums) lines.push(...renderEnum(nested, importPath, comments));
  return lines;
}

function renderEnum(enumDesc: DescEnum, importPath: string, comments: CommentIndex): string[] {
  const lines = [`### <a id="${anchor(enumDesc.typeName)}"></a>${enumDesc.typeName}`, ""];
  const description = comments.get(enumDesc.typeName) ?? "";
  if (description !== "") lines.push(description, "");
  lines.push(`Enum: \`${enumDesc.name}\` from \`${importPath}\`. JSON uses the value names.`, "");
  lines.push("| Value | Number | Description |", "|---|---|---|");
  for (const value of enumDesc.values) {
    lines.push(`| \`${value.name}\` | ${value.number} | ${cell(comments.get(`${enumDesc.typeName}.${value.name}`) ?? "")} |`);
  }
  lines.push("");
  return lines;
}

/** Renders the complete API reference. Pure: same descriptors, comments and status give the same text. */
function renderApiReference(files: readonly GeneratedFile[], comments: CommentIndex, status: Readonly<Record<string, RpcStatus>>): string {
  const services = files.flatMap((file) => file.desc.services.map((service) => ({ service, file })));
  const rpcCount = services.reduce((sum, { service }) => sum + service.methods.length, 0);
  const implementedCount = services.reduce(
    (sum, { service }) => sum + service.methods.filter((method) => status[`${service.typeName}/${method.name}`] === "implemented").length,
    0,
  );
  const lines = [
    "<!-- Generated by scripts/generate.ts from proto/aesp/v1 and packages/host/src/gateway/rpc-status.ts. DO NOT EDIT: run `npm run generate`. -->",
    "",
    `# API reference: \`${protoPackage}\``,
    "",
    `${services.length} services, ${rpcCount} RPCs, ${implementedCount} implemented. ` +
      "Every service is served as gRPC, gRPC-Web and Connect (JSON with the proto field names, e.g. `call_id`). " +
      "Every failure is an RPC error whose details carry an `aesp.v1.EnterpriseError`; " +
      "`oneof response_type { ... EnterpriseError error }` arms kept from the AESP seeds are never populated. " +
      "Times are Unix epoch milliseconds. Design notes: [ADR 0002](../adr/0002-protocol.md).",
    "",
    "## Services",
    "",
    "| Service | RPCs | Implemented | File | Import |",
    "|---|---|---|---|---|",
  ];
  for (const { service, file } of services) {
    const implemented = service.methods.filter((method) => status[`${service.typeName}/${method.name}`] === "implemented").length;
    lines.push(
      `| [\`${service.name}\`](#${anchor(service.typeName)}) | ${service.methods.length} | ${implemented} | \`proto/${file.desc.name}.proto\` | \`${file.importPath}\` |`,
    );
  }
  lines.push("");
  for (const { service } of services) lines.push(...renderService(service, comments, status));
  lines.push("## Files", "");
  for (const file of files) {
    const description = comments.get(`file:${file.desc.name}.proto`) ?? "";
    lines.push(`- \`proto/${file.desc.name}.proto\` (\`${file.importPath}\`)${description === "" ? "" : `: ${cell(description)}`}`);
  }
  lines.push("", "## Messages", "");
  for (const file of files) {
    for (const message of file.desc.messages) lines.push(...renderMessage(message, file.importPath, comments));
  }
  lines.push("## Enums", "");
  for (const file of files) {
    for (const enumDesc of file.desc.enums) lines.push(...renderEnum(enumDesc, file.importPath, comments));
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** Differences between a freshly generated tree and the committed one, as human-readable lines. */
async function diffTrees(expectedRoot: string, actualRoot: string, label: string): Promise<string[]> {
  const expected = await listFiles(expectedRoot);
  const actual = new Set(await listFiles(actualRoot));
  const problems: string[] = [];
  for (const file of expected) {
    const path = join(label, file);
    if (!actual.has(file)) {
      problems.push(`missing: ${path}`);
      continue;
    }
    actual.delete(file);
    const [want, have] = await Promise.all([readFile(join(expectedRoot, file)), readFile(join(actualRoot, file))]);
    if (!want.equals(have)) problems.push(`stale:   ${path}`);
  }
  for (const file of actual) problems.push(`extra:   ${join(label, file)} (no longer generated)`);
  return problems;
}

/** Keys of rpc-status.ts that name no RPC: typos or removed RPCs that would silently read as unimplemented. */
function unknownStatusKeys(files: readonly GeneratedFile[], status: Readonly<Record<string, RpcStatus>>): string[] {
  const known = new Set(files.flatMap((file) => file.desc.services.flatMap((service) => service.methods.map((method) => `${service.typeName}/${method.name}`))));
  return Object.keys(status).filter((key) => !known.has(key)).sort();
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes("--check");
  runBuf(["lint"]);
  const comments = loadComments();
  const status = await loadRpcStatus();
  if (!check) {
    runBuf(["generate"]);
    const files = await loadGeneratedFiles(join(repoRoot, generatedDir));
    for (const key of unknownStatusKeys(files, status)) console.warn(`warning: ${rpcStatusPath} names an unknown RPC: ${key}`);
    const reference = renderApiReference(files, comments, status);
    await mkdir(dirname(join(repoRoot, apiReferencePath)), { recursive: true });
    await writeFile(join(repoRoot, apiReferencePath), reference);
    for (const [page, text] of Object.entries(renderReferenceDocs())) await writeFile(join(repoRoot, page), text);
    console.log(`generated ${generatedDir}, ${apiReferencePath} and the reference pages`);
    return 0;
  }
  // Inside the repository so the generated modules resolve @bufbuild/protobuf from node_modules.
  const cacheDir = join(repoRoot, "node_modules", ".cache");
  await mkdir(cacheDir, { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, "aesp-generate-"));
  try {
    runBuf(["generate", "--output", scratch]);
    const files = await loadGeneratedFiles(join(scratch, generatedDir));
    const reference = renderApiReference(files, comments, status);
    const problems = await diffTrees(join(scratch, generatedDir), join(repoRoot, generatedDir), generatedDir);
    for (const key of unknownStatusKeys(files, status)) problems.push(`unknown RPC in ${rpcStatusPath}: ${key}`);
    const committedReference = existsSync(join(repoRoot, apiReferencePath)) ? await readFile(join(repoRoot, apiReferencePath), "utf8") : null;
    if (committedReference === null) problems.push(`missing: ${apiReferencePath}`);
    else if (committedReference !== reference) problems.push(`stale:   ${apiReferencePath}`);
    for (const [page, text] of Object.entries(renderReferenceDocs())) {
      const committed = existsSync(join(repoRoot, page)) ? await readFile(join(repoRoot, page), "utf8") : null;
      if (committed !== text) problems.push(`${committed === null ? "missing" : "stale:  "} ${page}`);
    }
    if (problems.length > 0) {
      console.error(`Generated files are out of date with proto/aesp/v1 or ${rpcStatusPath} (run \`npm run generate\` and commit the result):\n  ${problems.join("\n  ")}`);
      return 1;
    }
    console.log(`generated files are up to date (${generatedDir}, ${apiReferencePath})`);
    return 0;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof BufFailure)) throw error;
  console.error(`generate: ${error.message}`);
  process.exitCode = 1;
}
