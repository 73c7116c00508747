import { InvalidArgumentError, Option } from "commander";
import type { Command } from "commander";
import { PrincipalSchema } from "@aesp/proto/identity";
import type { Principal } from "@aesp/proto/identity";
import { formatTime } from "../context.ts";
import { updateProfile } from "../profiles.ts";
import type { CommandKit } from "../program.ts";
import { collect, positiveInteger } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields } from "../table.ts";
import type { Column } from "../table.ts";
import { pageSize } from "./tenants.ts";

interface CreateOptions {
  name: string;
  role?: string[];
  permission?: string[];
  clearance?: string;
  description?: string;
  tenant?: string;
  saveProfile?: string;
}

const accountColumns: readonly Column<Principal>[] = [
  { header: "ID", value: (account) => account.principalId },
  { header: "NAME", value: (account) => account.displayName },
  { header: "ROLES", value: (account) => account.roles.join(",") },
  { header: "CLEARANCE", value: (account) => account.securityClearance },
  { header: "STATUS", value: (account) => account.status },
  { header: "CREATED", value: (account) => formatTime(account.createdAt) },
];

/** `aesp service-account create|list|revoke|rotate`. */
export function registerServiceAccountCommands(program: Command, kit: CommandKit): void {
  const accounts = program.command("service-account").description("Manage service accounts (non-human principals with API keys) of your tenant.");

  const create = accounts
    .command("create")
    .description("Create a service account and print its API key once (or store it in a profile with --save-profile).")
    .requiredOption("--name <name>", "service account name")
    .option("--role <role>", "role to grant (repeatable, or comma-separated)", collect)
    .option("--permission <resource:action>", "permission to grant directly (repeatable)", collect)
    .addOption(new Option("--clearance <level>", "highest data classification it may read").choices(["public", "internal", "confidential", "restricted"]))
    .option("--description <text>", "what it is for")
    .option("--tenant <tenant-id>", "tenant (default: yours)")
    .option("--save-profile <profile>", "store the new key in this profile instead of printing it")
    .action(
      kit.action(async (ctx, options: CreateOptions) => {
        const settings = await ctx.settings();
        const client = await ctx.client();
        const response = await client.services.identity.createServiceAccount({
          name: options.name,
          description: options.description ?? "",
          tenantId: options.tenant ?? "",
          roles: options.role ?? [],
          permissions: options.permission ?? [],
          // The request has no clearance field; the Host reads it from this metadata key.
          metadata: options.clearance === undefined ? {} : { clearance: options.clearance },
        });
        if (response.responseType.case !== "successDetails") throw usageError("The Host returned no service account.");
        const details = response.responseType.value;
        const tenantId = details.apiKey.split(".")[1] ?? options.tenant ?? "";
        if (options.saveProfile !== undefined) {
          await updateProfile(settings.profilePath, options.saveProfile, { host: settings.host, ca: settings.caPath, tenant: tenantId, api_key: details.apiKey, principal: details.serviceAccountId });
          ctx.result({ service_account_id: details.serviceAccountId, tenant_id: tenantId, profile: options.saveProfile }, () =>
            [`Created service account ${details.serviceAccountId}.`, `Its API key is stored in profile "${options.saveProfile}"; use it with: aesp --profile ${options.saveProfile} <command>`].join("\n"),
          );
          return;
        }
        ctx.result(
          { service_account_id: details.serviceAccountId, tenant_id: tenantId, api_key: details.apiKey, created_at: Number(details.createdAt), expires_at: Number(details.expiresAt) },
          () =>
            formatFields([
              ["service account", details.serviceAccountId],
              ["tenant", tenantId],
              ["api key", details.apiKey],
            ]) + "\nThe API key is shown only now: store it in a secret manager, or pass --save-profile next time.",
        );
      }),
    );
  kit.example(
    create,
    "aesp service-account create --name support-agent --role agent --clearance internal",
    "aesp service-account create --name ci --role contract-author --save-profile ci",
  );

  const list = accounts
    .command("list")
    .description("List the service accounts of your tenant.")
    .option("--all", "include revoked and disabled accounts")
    .option("--limit <n>", "at most this many", positiveInteger("--limit"))
    .action(
      kit.action(async (ctx, options: { all?: boolean; limit?: number }) => {
        const client = await ctx.client();
        const rows: Principal[] = [];
        let cursor = "";
        do {
          const page = await client.services.identity.listServiceAccounts({ includeInactive: options.all === true, cursor, limit: pageSize(options.limit, rows.length) });
          rows.push(...page.serviceAccounts);
          cursor = page.nextCursor;
        } while (cursor !== "" && (options.limit === undefined || rows.length < options.limit));
        ctx.table(PrincipalSchema, rows.slice(0, options.limit), accountColumns);
      }),
    );
  kit.example(list, "aesp service-account list", "aesp service-account list --all --json");

  const revoke = accounts
    .command("revoke")
    .description("Revoke a service account with all its keys and tokens, at once.")
    .argument("<service-account-id>", "the account's principal id")
    .option("--reason <text>", "recorded in audit", "")
    .action(
      kit.action(async (ctx, serviceAccountId: string, options: { reason: string }) => {
        const client = await ctx.client();
        const response = await client.services.identity.revokeServiceAccount({ serviceAccountId, reason: options.reason });
        ctx.result({ service_account_id: serviceAccountId, revoked: response.revoked, revoked_keys: response.revokedKeys }, () =>
          response.revoked ? `Revoked ${serviceAccountId} (${response.revokedKeys} key(s)).` : `${serviceAccountId} was already revoked.`,
        );
      }),
    );
  kit.example(revoke, 'aesp service-account revoke sa_01J9ZK... --reason "key leaked"');

  const rotate = accounts
    .command("rotate")
    .description("Issue a new API key for a service account; its older keys keep working for the overlap, then stop.")
    .argument("<service-account-id>", "the account's principal id")
    .option("--overlap <seconds>", "how long the older keys keep working (0: they stop at once)", nonNegativeInteger("--overlap"), 3600)
    .option("--tenant <tenant-id>", "tenant (default: yours)")
    .option("--save-profile <profile>", "store the new key in this profile instead of printing it")
    .action(
      kit.action(async (ctx, serviceAccountId: string, options: { overlap: number; tenant?: string; saveProfile?: string }) => {
        const settings = await ctx.settings();
        const client = await ctx.client();
        const response = await client.services.serviceAccountCredentials.rotateServiceAccountSecret({ serviceAccountId, tenantId: options.tenant ?? "", overlapSeconds: options.overlap });
        const tenantId = response.apiKey.split(".")[1] ?? options.tenant ?? "";
        const oldKeysExpire = Number(response.oldKeysExpireAt);
        const overlapNote = options.overlap === 0 ? "The older keys stopped working now." : `The older keys stop working at ${formatTime(oldKeysExpire)}.`;
        if (options.saveProfile !== undefined) {
          await updateProfile(settings.profilePath, options.saveProfile, { host: settings.host, ca: settings.caPath, tenant: tenantId, api_key: response.apiKey, principal: serviceAccountId });
          ctx.result({ service_account_id: serviceAccountId, profile: options.saveProfile, old_keys_expire_at: oldKeysExpire }, () =>
            [`Rotated the key of ${serviceAccountId}; the new key is stored in profile "${options.saveProfile}".`, overlapNote].join("\n"),
          );
          return;
        }
        ctx.result({ service_account_id: serviceAccountId, api_key: response.apiKey, old_keys_expire_at: oldKeysExpire }, () =>
          formatFields([
            ["service account", serviceAccountId],
            ["api key", response.apiKey],
          ]) + `\n${overlapNote}\nThe new API key is shown only now: update the clients that use this account before the overlap ends.`,
        );
      }),
    );
  kit.example(rotate, "aesp service-account rotate sa_01J9ZK... --overlap 86400", "aesp service-account rotate sa_01J9ZK... --overlap 0 --save-profile ci");
}

/** Parses a non-negative integer option. */
function nonNegativeInteger(name: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed)) throw new InvalidArgumentError(`${name} must be a whole number of seconds.`);
    return parsed;
  };
}
