import type { Command } from "commander";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { withAespErrors } from "@aesp/client";
import type { AespClient } from "@aesp/client";
import { CheckPermissionResponseSchema, GetEffectivePermissionsResponseSchema, RoleSchema } from "@aesp/proto/authorization";
import { RoleDetailsSchema, RoleService } from "@aesp/proto/role";
import type { RoleDetails } from "@aesp/proto/role";
import { formatTime } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { collect } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields } from "../table.ts";
import type { Column } from "../table.ts";

/** The principal id through which EnterpriseAuthorizationService names a directory group. */
const groupSubject = (group: string): string => `group:${group}`;

const roleColumns: readonly Column<RoleDetails>[] = [
  { header: "NAME", value: (details) => details.role?.name },
  { header: "BUILT-IN", value: (details) => (details.role?.builtIn === true ? "yes" : "") },
  { header: "INHERITS", value: (details) => details.role?.inherits.join(",") },
  { header: "PERMISSIONS", value: (details) => details.effectivePermissions.join(","), maxWidth: 70 },
  { header: "GROUPS", value: (details) => details.boundGroups.join(",") },
];

/** The read side of roles, through the client's transport (RoleService is not in `client.services`). */
function roles(client: AespClient): Client<typeof RoleService> {
  return withAespErrors(RoleService, createClient(RoleService, client.transport));
}

/** `--principal <id>` or `--group <name>`, exactly one; `optional` lets neither mean the caller. */
function subjectOf(options: { principal?: string; group?: string }, usage: string[], optional = false): string {
  if (options.principal !== undefined && options.group !== undefined) throw usageError("Give --principal or --group, not both.", usage);
  if (options.group !== undefined) return groupSubject(options.group);
  if (options.principal !== undefined) return options.principal;
  if (optional) return "";
  throw usageError("Name who: --principal <id> or --group <name>.", usage);
}

/** `aesp role create|list|show|assign|revoke|check|effective`. */
export function registerRoleCommands(program: Command, kit: CommandKit): void {
  const role = program
    .command("role")
    .description("Define the roles of your tenant, grant them to principals and directory groups, and check who may do what.");

  const create = role
    .command("create")
    .description(
      "Define a role: its own permissions (resource:action, * per segment) and the roles it inherits. You can only grant what you hold yourself. Effective at once on every Host.",
    )
    .argument("<name>", "role name: lower case, [a-z][a-z0-9_.-]{0,63}")
    .option("--permission <permission>", "a permission of its own (repeatable, or comma-separated)", collect)
    .option("--inherits <role>", "a role whose permissions it includes (repeatable, or comma-separated)", collect)
    .option("--description <text>", "what the role is for", "")
    .option("--justification <text>", "why; recorded in audit", "")
    .action(
      kit.action(async (ctx, name: string, options: { permission?: string[]; inherits?: string[]; description: string; justification: string }) => {
        if ((options.permission ?? []).length === 0 && (options.inherits ?? []).length === 0) {
          throw usageError("A role needs at least one --permission or --inherits.", ["aesp role create analyst --permission reports:read --inherits agent"]);
        }
        const client = await ctx.client();
        const response = await client.services.authorization.createRole({
          role: { name, description: options.description, permissions: options.permission ?? [], inherits: options.inherits ?? [] },
          justification: options.justification,
        });
        const created = response.role;
        if (created === undefined) throw usageError("The Host returned no role.");
        ctx.message(RoleSchema, created, () =>
          formatFields([
            ["role", created.name],
            ["permissions", created.permissions.join(", ")],
            ["inherits", created.inherits.join(", ")],
            ["description", created.description],
            ["created", formatTime(created.createdAt)],
          ]),
        );
      }),
    );
  kit.example(
    create,
    'aesp role create analyst --permission reports:read,reports:run --inherits agent --description "Runs reports"',
    "aesp role create finance-lead --permission payments:approve --inherits finance",
    "aesp role create payments-admin --permission 'payments:*'",
  );

  const list = role
    .command("list")
    .description("List the roles of your tenant with their permissions after inheritance and the groups bound to them.")
    .action(
      kit.action(async (ctx) => {
        const client = await ctx.client();
        const response = await roles(client).listRoles({});
        ctx.table(RoleDetailsSchema, response.roles, roleColumns);
      }),
    );
  kit.example(list, "aesp role list", "aesp role list --json");

  const show = role
    .command("show")
    .description("Show one role: its own permissions, what it inherits (transitively), all its permissions and the groups bound to it.")
    .argument("<name>", "role name")
    .action(
      kit.action(async (ctx, name: string) => {
        const client = await ctx.client();
        const details = (await roles(client).getRole({ name })).role;
        if (details === undefined) throw usageError("The Host returned no role.");
        ctx.message(RoleDetailsSchema, details, () =>
          formatFields([
            ["role", details.role?.name],
            ["description", details.role?.description],
            ["built in", details.role?.builtIn === true ? "yes" : "no"],
            ["own permissions", details.role?.permissions.join(", ")],
            ["inherits", details.role?.inherits.join(", ")],
            ["inherited roles", details.inheritedRoles.join(", ")],
            ["all permissions", details.effectivePermissions.join(", ")],
            ["bound groups", details.boundGroups.join(", ")],
            ["created", formatTime(details.role?.createdAt ?? 0n)],
          ]),
        );
      }),
    );
  kit.example(show, "aesp role show finance-lead", "aesp role show agent --json");

  const assignUsage = ["aesp role assign analyst --principal usr_01J9ZK...", 'aesp role assign analyst --group "Finance Analysts"'];
  const assign = role
    .command("assign")
    .description(
      "Grant a role to a principal, or bind it to a directory group (from LDAP, OIDC, SAML or SCIM) so that every member holds it. Effective on the next call on every Host.",
    )
    .argument("<role>", "role name")
    .option("--principal <id>", "the principal to grant it to")
    .option("--group <name>", "the directory group to bind it to, exactly as the identity provider names it")
    .option("--justification <text>", "why; recorded in audit", "")
    .action(
      kit.action(async (ctx, roleName: string, options: { principal?: string; group?: string; justification: string }) => {
        const subject = subjectOf(options, assignUsage);
        const client = await ctx.client();
        const response = await client.services.authorization.assignRole({ principalId: subject, role: roleName, justification: options.justification });
        const who = options.group === undefined ? subject : `group "${options.group}"`;
        ctx.result({ subject, role: roleName, roles: response.roles, approval_request_id: response.approvalRequestId }, () =>
          response.approvalRequestId !== ""
            ? `The change awaits approval (request ${response.approvalRequestId}).`
            : `${roleName} granted to ${who}; its roles: ${response.roles.join(", ") || "(none)"}. Effective on the next call.`,
        );
      }),
    );
  kit.example(assign, ...assignUsage, 'aesp role assign approver --principal usr_01J9ZK... --justification "joined compliance"');

  const revokeUsage = ["aesp role revoke analyst --principal usr_01J9ZK...", 'aesp role revoke analyst --group "Finance Analysts"'];
  const revoke = role
    .command("revoke")
    .description("Withdraw a role from a principal, or unbind it from a directory group. Effective on the next call on every Host.")
    .argument("<role>", "role name")
    .option("--principal <id>", "the principal to withdraw it from")
    .option("--group <name>", "the directory group to unbind it from")
    .option("--reason <text>", "why; recorded in audit", "")
    .action(
      kit.action(async (ctx, roleName: string, options: { principal?: string; group?: string; reason: string }) => {
        const subject = subjectOf(options, revokeUsage);
        const client = await ctx.client();
        const response = await client.services.authorization.revokeRole({ principalId: subject, role: roleName, reason: options.reason });
        const who = options.group === undefined ? subject : `group "${options.group}"`;
        ctx.result({ subject, role: roleName, roles: response.roles, approval_request_id: response.approvalRequestId }, () =>
          response.approvalRequestId !== ""
            ? `The change awaits approval (request ${response.approvalRequestId}).`
            : `${roleName} withdrawn from ${who}; its roles: ${response.roles.join(", ") || "(none)"}. Effective on the next call.`,
        );
      }),
    );
  kit.example(revoke, ...revokeUsage);

  const check = role
    .command("check")
    .description("Tell whether a principal (yourself by default) or a group holds a permission, and through which roles. Exits 1 when it does not.")
    .requiredOption("--permission <permission>", "resource:action, e.g. tools:invoke")
    .option("--principal <id>", "whom to ask about (default: yourself)")
    .option("--group <name>", "ask about a directory group instead")
    .action(
      kit.action(async (ctx, options: { permission: string; principal?: string; group?: string }) => {
        const subject = subjectOf(options, ["aesp role check --principal usr_01J9ZK... --permission payments:approve"], true);
        const client = await ctx.client();
        const response = await client.services.authorization.checkPermission({ principalId: subject, permission: options.permission });
        const who = subject === "" ? "you" : options.group === undefined ? subject : `group "${options.group}"`;
        const grantedBy = response.grantedBy.map((by) => (by === "direct" ? "a direct grant" : `role ${by}`));
        ctx.message(CheckPermissionResponseSchema, response, () =>
          response.granted ? `granted: ${who} hold${subject === "" ? "" : "s"} ${options.permission} through ${grantedBy.join(", ")}.` : `denied: no role or direct grant gives ${who} ${options.permission} (deny by default).`,
        );
        if (!response.granted) kit.setExitCode(1);
      }),
    );
  kit.example(check, "aesp role check --permission tools:invoke", "aesp role check --principal usr_01J9ZK... --permission payments:approve", 'aesp role check --group "Finance Analysts" --permission reports:read');

  const effective = role
    .command("effective")
    .description("Show the roles (bound, from the identity provider and from groups, plus everything inherited), permissions and clearance of a principal (yourself by default) or a group.")
    .option("--principal <id>", "whom to show (default: yourself)")
    .option("--group <name>", "show what a directory group's members receive")
    .action(
      kit.action(async (ctx, options: { principal?: string; group?: string }) => {
        const subject = subjectOf(options, ["aesp role effective --principal usr_01J9ZK..."], true);
        const client = await ctx.client();
        const rights = await client.services.authorization.getEffectivePermissions({ principalId: subject });
        // Clearance lives with the principal, not in the effective-permissions answer.
        const principal = options.group === undefined ? (await client.services.identity.getPrincipalDetails({ principalId: subject })).principal : undefined;
        if (ctx.json) {
          ctx.result(
            { principal_id: rights.principalId, roles: rights.roles, permissions: rights.permissions, ...(principal === undefined ? {} : { clearance: principal.securityClearance, groups: principal.groups }) },
            () => "",
          );
          return;
        }
        ctx.message(GetEffectivePermissionsResponseSchema, rights, () =>
          formatFields([
            ["subject", rights.principalId],
            ["roles", rights.roles.join(", ")],
            ["permissions", rights.permissions.join(", ")],
            ...(principal === undefined
              ? []
              : ([
                  ["clearance", principal.securityClearance],
                  ["groups", principal.groups.join(", ")],
                ] as const)),
          ]),
        );
      }),
    );
  kit.example(effective, "aesp role effective", "aesp role effective --principal usr_01J9ZK...", 'aesp role effective --group "Finance Analysts" --json');
}
