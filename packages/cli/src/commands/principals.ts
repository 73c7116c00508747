import { Option } from "commander";
import type { Command } from "commander";
import { AuditEventSchema, PrincipalType } from "@aesp/proto/enterprise";
import type { AuditEvent } from "@aesp/proto/enterprise";
import { GetPrincipalDetailsResponseSchema, PrincipalSchema } from "@aesp/proto/identity";
import type { Principal } from "@aesp/proto/identity";
import { formatTime } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { collect, positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields } from "../table.ts";
import type { Column } from "../table.ts";
import { pageSize } from "./tenants.ts";

const principalTypes: Record<string, PrincipalType> = {
  user: PrincipalType.USER,
  "service-account": PrincipalType.SERVICE_ACCOUNT,
  system: PrincipalType.SYSTEM_ACCOUNT,
};

/** The short name of a principal type, as the `--type` option spells it. */
function typeName(type: PrincipalType): string {
  return Object.entries(principalTypes).find(([, value]) => value === type)?.[0] ?? "unknown";
}

const principalColumns: readonly Column<Principal>[] = [
  { header: "ID", value: (principal) => principal.principalId },
  { header: "TYPE", value: (principal) => typeName(principal.principalType) },
  { header: "NAME", value: (principal) => principal.userName || principal.displayName },
  { header: "ROLES", value: (principal) => [...principal.roles, ...principal.syncedRoles.filter((role) => !principal.roles.includes(role))].join(",") },
  { header: "PROVIDER", value: (principal) => principal.providerId || "local" },
  { header: "STATUS", value: (principal) => principal.status },
];

const eventColumns: readonly Column<AuditEvent>[] = [
  { header: "TIME", value: (event) => formatTime(event.timestampMs) },
  { header: "EVENT", value: (event) => event.eventType },
  { header: "OUTCOME", value: (event) => event.outcome },
  { header: "RESOURCE", value: (event) => event.resource },
  { header: "SOURCE", value: (event) => event.sourceIp },
];

interface ListOptions {
  type?: string;
  status?: string;
  provider?: string;
  role?: string;
  userName?: string;
  namePrefix?: string;
  all?: boolean;
  limit?: number;
}

/** `aesp principal list|show|set-roles|audit`. */
export function registerPrincipalCommands(program: Command, kit: CommandKit): void {
  const principals = program.command("principal").description("Inspect the people and accounts of your tenant and manage their roles.");

  const list = principals
    .command("list")
    .description("List principals, filtered by type, status, identity provider, role or name.")
    .addOption(new Option("--type <type>", "principal type").choices(Object.keys(principalTypes)))
    .addOption(new Option("--status <status>", "status (default: ACTIVE, or all with --all)").choices(["ACTIVE", "DISABLED", "REVOKED"]))
    .option("--provider <provider-id>", 'identity provider that owns them ("local" for accounts created in the Host)')
    .option("--role <role>", "bound to this role, directly or through their identity provider")
    .option("--user-name <name>", "exact login name (case-insensitive)")
    .option("--name-prefix <text>", "display names starting with this text")
    .option("--all", "include disabled and revoked principals")
    .option("--limit <n>", "at most this many", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, options: ListOptions) => {
        const client = await ctx.client();
        const rows: Principal[] = [];
        let cursor = "";
        do {
          const page = await client.services.identity.listPrincipals({
            principalType: options.type === undefined ? PrincipalType.PRINCIPAL_TYPE_UNSPECIFIED : (principalTypes[options.type] ?? PrincipalType.PRINCIPAL_TYPE_UNSPECIFIED),
            includeInactive: options.all === true,
            status: options.status ?? "",
            providerId: options.provider ?? "",
            role: options.role ?? "",
            userName: options.userName ?? "",
            displayNamePrefix: options.namePrefix ?? "",
            cursor,
            limit: pageSize(options.limit, rows.length),
          });
          rows.push(...page.principals);
          cursor = page.nextCursor;
        } while (cursor !== "" && (options.limit === undefined || rows.length < options.limit));
        ctx.table(PrincipalSchema, rows.slice(0, options.limit), principalColumns);
      }),
    );
  kit.example(list, "aesp principal list --type user", "aesp principal list --provider corp-ldap --role approver", "aesp principal list --all --json");

  const show = principals
    .command("show")
    .description("Show one principal: roles (direct and from the identity provider), effective permissions and an audit summary.")
    .argument("<principal-id>", "the principal's id")
    .action(
      kit.action(async (ctx, principalId: string) => {
        const client = await ctx.client();
        const details = await client.services.identity.getPrincipalDetails({ principalId, includePermissions: true, includeAuditSummary: true });
        const principal = details.principal;
        const summary = details.auditSummary;
        ctx.message(GetPrincipalDetailsResponseSchema, details, () =>
          formatFields([
            ["principal", principal?.principalId],
            ["type", principal === undefined ? undefined : typeName(principal.principalType)],
            ["tenant", principal?.tenantId],
            ["name", principal?.displayName],
            ["user name", principal?.userName],
            ["provider", principal === undefined ? undefined : principal.providerId || "local"],
            ["status", principal?.status],
            ["roles", principal?.roles.join(", ")],
            ["roles from provider", principal?.syncedRoles.join(", ")],
            ["groups", principal?.groups.join(", ")],
            ["clearance", principal?.securityClearance],
            ["permissions", details.effectivePermissions.join(", ")],
            ["last synced", principal === undefined ? undefined : formatTime(principal.syncedAt)],
            ["created", principal === undefined ? undefined : formatTime(principal.createdAt)],
            ["expires", principal === undefined ? undefined : formatTime(principal.expiresAt)],
            ["audit events", summary === undefined ? undefined : `${summary.totalEvents} (${summary.deniedEvents} denied)`],
            ["last sign-in", summary === undefined ? undefined : formatTime(summary.lastAuthenticationAt)],
          ]),
        );
      }),
    );
  kit.example(show, "aesp principal show usr_01J9ZK...", "aesp principal show usr_01J9ZK... --json");

  const setRoles = principals
    .command("set-roles")
    .description(
      "Change a principal's direct roles, effective on its next call on every Host. --role gives the complete list; --add and --remove change it. Roles granted by an identity provider are managed there.",
    )
    .argument("<principal-id>", "the principal's id")
    .option("--role <role>", "the complete set of direct roles (repeatable, or comma-separated)", collect)
    .option("--add <role>", "role to add (repeatable)", collect)
    .option("--remove <role>", "role to remove (repeatable)", collect)
    .option("--none", "remove every direct role")
    .option("--justification <text>", "why; recorded in audit", "")
    .action(
      kit.action(async (ctx, principalId: string, options: { role?: string[]; add?: string[]; remove?: string[]; none?: boolean; justification: string }) => {
        const exact = options.role !== undefined || options.none === true;
        const relative = options.add !== undefined || options.remove !== undefined;
        if (exact === relative || (options.role !== undefined && options.none === true)) {
          throw usageError("Give either --role (the complete list) or --none, or --add / --remove.", [
            "aesp principal set-roles usr_... --role agent,approver",
            "aesp principal set-roles usr_... --add approver --remove agent",
            "aesp principal set-roles usr_... --none",
          ]);
        }
        const client = await ctx.client();
        let rolesToAdd = options.add ?? [];
        let rolesToRemove = options.remove ?? [];
        if (exact) {
          const wanted = new Set(options.role ?? []);
          const current = (await client.services.identity.getPrincipalDetails({ principalId })).principal?.roles ?? [];
          rolesToAdd = [...wanted].filter((role) => !current.includes(role));
          rolesToRemove = current.filter((role) => !wanted.has(role));
        }
        if (rolesToAdd.length === 0 && rolesToRemove.length === 0) {
          ctx.result({ principal_id: principalId, changed: false }, () => `${principalId} already has exactly these roles.`);
          return;
        }
        const response = await client.services.identity.updatePrincipalRoles({ principalId, rolesToAdd, rolesToRemove, justification: options.justification });
        const roles = response.principal?.roles ?? [];
        ctx.result(
          { principal_id: principalId, changed: true, roles, added: rolesToAdd, removed: rolesToRemove, approval_request_id: response.approvalRequestId },
          () =>
            response.approvalRequestId !== ""
              ? `The change awaits approval (request ${response.approvalRequestId}).`
              : `Roles of ${principalId}: ${roles.length === 0 ? "(none)" : roles.join(", ")}. Effective on its next call.`,
        );
      }),
    );
  kit.example(setRoles, "aesp principal set-roles usr_01J9ZK... --role agent,approver", 'aesp principal set-roles usr_01J9ZK... --remove approver --justification "left the team"');

  const audit = principals
    .command("audit")
    .description("Show a principal's audit trail, newest first.")
    .argument("<principal-id>", "the principal's id")
    .option("--since <iso-time>", "from this instant (ISO 8601)")
    .option("--type <event-type>", "only these event types (repeatable)", collect)
    .option("--limit <n>", "at most this many", positiveInteger("--limit"), 50)
    .action(
      kit.action(async (ctx, principalId: string, options: { since?: string; type?: string[]; limit: number }) => {
        const since = options.since === undefined ? 0 : Date.parse(options.since);
        if (Number.isNaN(since)) throw usageError("--since must be an ISO 8601 time, e.g. 2026-11-01T00:00:00Z.");
        const client = await ctx.client();
        const rows: AuditEvent[] = [];
        let cursor = "";
        do {
          const page = await client.services.identity.getPrincipalAuditTrail({ principalId, startTime: BigInt(since), eventTypes: options.type ?? [], cursor, limit: pageSize(options.limit, rows.length) });
          rows.push(...page.events);
          cursor = page.nextCursor;
        } while (cursor !== "" && rows.length < options.limit);
        ctx.table(AuditEventSchema, rows.slice(0, options.limit), eventColumns);
      }),
    );
  kit.example(audit, "aesp principal audit usr_01J9ZK... --since 2026-11-01T00:00:00Z", "aesp principal audit sa_01J9ZK... --type authn.failed");
}
