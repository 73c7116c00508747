import type { Command } from "commander";
import { tenantOfApiKey } from "@aesp/client";
import { ValidateTokenResponseSchema } from "@aesp/proto/authentication";
import { formatTime } from "../context.ts";
import { readProfiles, updateProfile, writeProfiles } from "../profiles.ts";
import type { CommandKit } from "../program.ts";
import { usageError } from "../render-error.ts";
import { formatFields, formatTable } from "../table.ts";

interface LoginOptions {
  bootstrapToken?: string;
  apiKey?: string;
  name?: string;
}

/** `aesp login`, `aesp whoami`, `aesp profile list|use`. */
export function registerLoginCommands(program: Command, kit: CommandKit): void {
  const login = program
    .command("login")
    .description("Store credentials in the profile: redeem the first-start bootstrap token, or save an existing API key.")
    .option("--bootstrap-token <token>", "the one-time token printed by the first `aesp start`")
    .option("--name <display name>", "display name of the first administrator (with --bootstrap-token)", "Platform administrator")
    .option("--api-key <key>", "a service-account API key (aesp.<tenant>.<key id>.<secret>)")
    .action(
      kit.action(async (ctx, options: LoginOptions) => {
        const hasToken = options.bootstrapToken !== undefined;
        const hasKey = options.apiKey !== undefined;
        if (hasToken === hasKey) throw usageError("Give exactly one of --bootstrap-token or --api-key.", ["aesp login --bootstrap-token <token>", "aesp login --api-key <key>"]);
        const settings = await ctx.settings();
        let principalId: string;
        let tenantId: string;
        let apiKey: string;
        if (options.bootstrapToken !== undefined) {
          const client = await ctx.client({ authenticated: false });
          const redeemed = await client.services.host.redeemBootstrapToken({ bootstrapToken: options.bootstrapToken, displayName: options.name ?? "" });
          ({ principalId, tenantId, apiKey } = redeemed);
        } else {
          apiKey = options.apiKey as string;
          tenantId = tenantOfApiKey(apiKey);
          // Check the key before storing it, so a typo is caught now rather than at the next command.
          const client = await ctx.client({ apiKey });
          const validated = await client.services.authentication.validateToken({ accessToken: (await client.accessToken()) ?? "" });
          principalId = validated.securityContext?.principalId ?? "";
          tenantId = validated.securityContext?.tenantId || tenantId;
        }
        await updateProfile(
          settings.profilePath,
          settings.profileName,
          { host: settings.host, ca: settings.caPath, tenant: tenantId, api_key: apiKey, principal: principalId },
          { makeCurrent: true },
        );
        ctx.result({ principal_id: principalId, tenant_id: tenantId, profile: settings.profileName, profile_path: settings.profilePath }, () =>
          [
            `Logged in as ${principalId} (tenant ${tenantId}).`,
            `The API key is stored in profile "${settings.profileName}" (${settings.profilePath}, readable only by you).`,
          ].join("\n"),
        );
      }),
    );
  kit.example(login, "aesp login --bootstrap-token aesp-bootstrap-3f9c... --ca .aesp/ca.pem", "aesp --profile ops login --api-key aesp.acme.k_12ab.s3cr3t");

  const whoami = program
    .command("whoami")
    .description("Show the principal, tenant and roles behind the current credentials.")
    .action(
      kit.action(async (ctx) => {
        const settings = await ctx.settings();
        const client = await ctx.client();
        const validated = await client.services.authentication.validateToken({ accessToken: (await client.accessToken()) ?? "" });
        const security = validated.securityContext;
        ctx.message(ValidateTokenResponseSchema, validated, () =>
          formatFields([
            ["profile", settings.profileName],
            ["host", settings.host],
            ["principal", security?.principalId],
            ["tenant", security?.tenantId],
            ["roles", security?.roles.join(", ")],
            ["clearance", security?.securityClearance],
            ["permissions", security === undefined ? undefined : security.permissions.length],
            ["token expires", formatTime(validated.expiresAt)],
          ]),
        );
      }),
    );
  kit.example(whoami, "aesp whoami", "aesp --profile ops whoami --json");

  const profile = program.command("profile").description("Manage the stored profiles ($AESP_HOME/profiles.json).");
  const list = profile
    .command("list")
    .description("List profiles (API keys are never shown); * marks the current one.")
    .action(
      kit.action(async (ctx) => {
        const settings = await ctx.settings();
        const file = await readProfiles(settings.profilePath);
        const rows = Object.entries(file.profiles).map(([name, value]) => ({
          name,
          current: name === file.current,
          host: value.host ?? "",
          tenant: value.tenant ?? "",
          principal: value.principal ?? "",
          has_api_key: value.api_key !== undefined && value.api_key !== "",
        }));
        ctx.result({ current: file.current, profiles: rows }, () =>
          formatTable(
            [
              { header: "PROFILE", value: (row) => (row.current ? `${row.name} *` : row.name) },
              { header: "HOST", value: (row) => row.host },
              { header: "TENANT", value: (row) => row.tenant },
              { header: "PRINCIPAL", value: (row) => row.principal },
              { header: "API KEY", value: (row) => (row.has_api_key ? "stored" : "") },
            ],
            rows,
          ),
        );
      }),
    );
  kit.example(list, "aesp profile list");
  const use = profile
    .command("use")
    .description("Make a profile the current one.")
    .argument("<name>", "profile name")
    .action(
      kit.action(async (ctx, name: string) => {
        const settings = await ctx.settings();
        const file = await readProfiles(settings.profilePath);
        if (file.profiles[name] === undefined) throw usageError(`No profile named "${name}".`, ["List them with: aesp profile list"]);
        file.current = name;
        await writeProfiles(settings.profilePath, file);
        ctx.result({ current: name }, () => `Current profile: ${name}`);
      }),
    );
  kit.example(use, "aesp profile use ops");
}
