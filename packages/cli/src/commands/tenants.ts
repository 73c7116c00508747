import { Argument, Option } from "commander";
import type { Command } from "commander";
import { TenantSchema } from "@aesp/proto/tenant";
import type { Tenant } from "@aesp/proto/tenant";
import { formatTime } from "../context.ts";
import type { CliContext } from "../context.ts";
import type { CommandKit } from "../program.ts";
import { positiveInteger } from "../program.ts";
import { formatTable } from "../table.ts";
import type { Column } from "../table.ts";

const tenantColumns: readonly Column<Tenant>[] = [
  { header: "TENANT", value: (tenant) => tenant.tenantId },
  { header: "NAME", value: (tenant) => tenant.displayName },
  { header: "STATUS", value: (tenant) => tenant.status },
  { header: "ENGINE", value: (tenant) => tenant.policyEngine },
  { header: "CREATED", value: (tenant) => formatTime(tenant.createdAtUnixMs) },
];

function printTenant(ctx: CliContext, tenant: Tenant | undefined): void {
  if (tenant === undefined) return;
  ctx.message(TenantSchema, tenant, () => formatTable(tenantColumns, [tenant]));
}

/** `aesp tenant create|list|set-policy-engine|suspend|resume` (platform administrators). */
export function registerTenantCommands(program: Command, kit: CommandKit): void {
  const tenant = program.command("tenant").description("Manage tenants (platform administrators only).");

  const create = tenant
    .command("create")
    .description("Create an ACTIVE tenant.")
    .argument("<tenant-id>", "immutable id: lowercase letters, digits and dashes")
    .option("--name <display name>", "display name (default: the id)")
    .addOption(new Option("--policy-engine <engine>", "the language of the tenant's policy conditions").choices(["cel", "cedar"]).default("cel"))
    .action(
      kit.action(async (ctx, tenantId: string, options: { name?: string; policyEngine: string }) => {
        const client = await ctx.client();
        const response = await client.services.tenants.createTenant({ tenantId, displayName: options.name ?? tenantId, policyEngine: options.policyEngine });
        printTenant(ctx, response.tenant);
      }),
    );
  kit.example(create, 'aesp tenant create acme --name "Acme Corp"', "aesp tenant create globex --policy-engine cedar");

  const setEngine = tenant
    .command("set-policy-engine")
    .description("Move a tenant to another policy engine; refused, naming the policy, while an ACTIVE policy does not compile with it.")
    .argument("<tenant-id>", "the tenant")
    .addArgument(new Argument("<engine>", "the new engine").choices(["cel", "cedar"]))
    .action(
      kit.action(async (ctx, tenantId: string, engine: string) => {
        const client = await ctx.client();
        const response = await client.services.tenants.setTenantPolicyEngine({ tenantId, policyEngine: engine });
        printTenant(ctx, response.tenant);
      }),
    );
  kit.example(setEngine, "aesp tenant set-policy-engine globex cedar");

  const list = tenant
    .command("list")
    .description("List tenants, following pagination.")
    .addOption(new Option("--status <status>", "only tenants in this status").choices(["ACTIVE", "SUSPENDED"]))
    .option("--limit <n>", "at most this many", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, options: { status?: string; limit?: number }) => {
        const client = await ctx.client();
        const tenants: Tenant[] = [];
        let cursor = "";
        do {
          const page = await client.services.tenants.listTenants({ status: options.status ?? "", cursor, limit: pageSize(options.limit, tenants.length) });
          tenants.push(...page.tenants);
          cursor = page.nextCursor;
        } while (cursor !== "" && (options.limit === undefined || tenants.length < options.limit));
        ctx.table(TenantSchema, tenants.slice(0, options.limit), tenantColumns);
      }),
    );
  kit.example(list, "aesp tenant list", "aesp tenant list --status SUSPENDED --json");

  for (const [verb, description] of [
    ["suspend", "Suspend a tenant: every new session and call is refused with TENANT_SUSPENDED until resumed."],
    ["resume", "Resume a suspended tenant."],
  ] as const) {
    const command = tenant
      .command(verb)
      .description(description)
      .argument("<tenant-id>", "the tenant")
      .option("--reason <text>", "recorded in audit", "")
      .action(
        kit.action(async (ctx, tenantId: string, options: { reason: string }) => {
          const client = await ctx.client();
          const response =
            verb === "suspend"
              ? await client.services.tenants.suspendTenant({ tenantId, reason: options.reason })
              : await client.services.tenants.resumeTenant({ tenantId, reason: options.reason });
          printTenant(ctx, response.tenant);
        }),
      );
    kit.example(command, `aesp tenant ${verb} acme --reason "${verb === "suspend" ? "unpaid invoice" : "invoice paid"}"`);
  }
}

/** Page size to request so that `limit` is not overshot; 0 lets the Host choose. */
export function pageSize(limit: number | undefined, fetched: number): number {
  return limit === undefined ? 0 : Math.max(1, limit - fetched);
}
