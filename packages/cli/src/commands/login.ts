import type { Command } from "commander";
import { AespError, tenantOfApiKey } from "@aesp/client";
import { ValidateTokenResponseSchema } from "@aesp/proto/authentication";
import { formatTime, signInFlag } from "../context.ts";
import type { CliContext } from "../context.ts";
import { readProfiles, updateProfile, writeProfiles } from "../profiles.ts";
import type { CommandKit } from "../program.ts";
import { positiveInteger } from "../program.ts";
import { chooseProvider, signInWithOidc, signInWithPassword, signInWithSaml } from "./sign-in.ts";
import type { SignedIn, SignInKind } from "./sign-in.ts";
import { usageError } from "../render-error.ts";
import { formatFields, formatTable } from "../table.ts";

interface LoginOptions {
  bootstrapToken?: string;
  apiKey?: string;
  name?: string;
  tenant?: string;
  oidc?: string | true;
  saml?: string | true;
  ldap?: string | true;
  username?: string;
  passwordStdin?: boolean;
  device?: boolean;
  browser: boolean;
  timeout: number;
}

const loginUsage = [
  "aesp login --tenant acme --oidc            (browser sign-in at the tenant's OpenID provider)",
  "aesp login --tenant acme --oidc --device   (no browser on this machine)",
  "aesp login --tenant acme --saml            (browser sign-in at the tenant's SAML IdP)",
  "aesp login --tenant acme --ldap --username alice",
  "aesp login --api-key <key> | --bootstrap-token <token>",
];

/** Signs a person in through the tenant's identity provider and stores the Host tokens in the profile. */
async function signInPerson(ctx: CliContext, kind: SignInKind, options: LoginOptions): Promise<void> {
  const tenantId = options.tenant;
  if (tenantId === undefined || tenantId === "") throw usageError(`--${kind} needs --tenant <tenant-id>.`, loginUsage);
  if (kind === "ldap" && (options.username === undefined || options.username === "")) throw usageError("--ldap needs --username <name>.", loginUsage);
  if (options.device === true && kind !== "oidc") throw usageError("--device works only with --oidc.", loginUsage);
  const settings = await ctx.settings();
  const client = await ctx.client({ authenticated: false });
  const requested = options[kind];
  const method = await chooseProvider(client, tenantId, kind, typeof requested === "string" ? requested : undefined);
  let signedIn: SignedIn;
  switch (kind) {
    case "oidc":
      signedIn = await signInWithOidc(ctx, client, method, tenantId, { device: options.device === true, browser: options.browser, timeoutSeconds: options.timeout });
      break;
    case "saml":
      signedIn = await signInWithSaml(ctx, method, tenantId, { browser: options.browser, timeoutSeconds: options.timeout, hostUrl: settings.host });
      break;
    case "ldap":
      signedIn = await signInWithPassword(ctx, client, method, tenantId, options.username as string);
      break;
  }
  await updateProfile(
    settings.profilePath,
    settings.profileName,
    {
      host: settings.host,
      ca: settings.caPath,
      tenant: signedIn.tenantId || tenantId,
      principal: signedIn.principalId,
      sign_in: `${kind}:${method.providerId}`,
      access_token: signedIn.accessToken,
      access_token_expires_at: String(signedIn.expiresAt),
      refresh_token: signedIn.refreshToken,
      api_key: null,
    },
    { makeCurrent: true },
  );
  ctx.result(
    { principal_id: signedIn.principalId, tenant_id: signedIn.tenantId || tenantId, sign_in: `${kind}:${method.providerId}`, profile: settings.profileName, profile_path: settings.profilePath },
    () =>
      [
        `Signed in as ${signedIn.principalId} (tenant ${signedIn.tenantId || tenantId}) through ${method.displayName === "" ? method.providerId : method.displayName}.`,
        `The tokens are stored in profile "${settings.profileName}" (${settings.profilePath}, readable only by you) and refreshed as needed; end the sign-in with: aesp logout`,
      ].join("\n"),
  );
}

/** `aesp login`, `aesp logout`, `aesp whoami`, `aesp profile list|use`. */
export function registerLoginCommands(program: Command, kit: CommandKit): void {
  const login = program
    .command("login")
    .description(
      "Sign in and store the credentials in the profile: as a person through the tenant's identity provider (OIDC, SAML or LDAP), with a service-account API key, or by redeeming the first-start bootstrap token.",
    )
    .option("--tenant <tenant-id>", "tenant to sign in to (with --oidc, --saml or --ldap)")
    .option("--oidc [provider]", "sign in at the tenant's OpenID Connect provider (code + PKCE in the browser)")
    .option("--saml [provider]", "sign in at the tenant's SAML 2.0 identity provider in the browser")
    .option("--ldap [provider]", "sign in with a directory (LDAP / Active Directory) user name and password")
    .option("--username <name>", "directory user name (with --ldap)")
    .option("--password-stdin", "read the password from stdin instead of prompting (with --ldap)")
    .option("--device", "use the device flow: sign in on another device (with --oidc)")
    .option("--no-browser", "print the sign-in URL instead of opening a browser")
    .option("--timeout <seconds>", "give up when sign-in has not finished after this long", positiveInteger("--timeout"), 300)
    .option("--api-key <key>", "a service-account API key (aesp.<tenant>.<key id>.<secret>)")
    .option("--bootstrap-token <token>", "the one-time token printed by the first `aesp start`")
    .option("--name <display name>", "display name of the first administrator (with --bootstrap-token)", "Platform administrator")
    .action(
      kit.action(async (ctx, options: LoginOptions) => {
        const kinds = (["oidc", "saml", "ldap"] as const).filter((kind) => options[kind] !== undefined);
        const chosen = kinds.length + (options.apiKey === undefined ? 0 : 1) + (options.bootstrapToken === undefined ? 0 : 1);
        if (chosen !== 1) throw usageError("Give exactly one way to sign in.", loginUsage);
        const kind = kinds[0];
        if (kind !== undefined) {
          await signInPerson(ctx, kind, options);
          return;
        }
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
          { host: settings.host, ca: settings.caPath, tenant: tenantId, api_key: apiKey, principal: principalId, sign_in: null, access_token: null, access_token_expires_at: null, refresh_token: null },
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
  kit.example(
    login,
    "aesp login --tenant acme --oidc",
    "aesp login --tenant acme --oidc okta --device",
    "aesp login --tenant acme --saml",
    "aesp login --tenant acme --ldap --username alice",
    "printf '%s\\n' \"$PASSWORD\" | aesp login --tenant acme --ldap corp-ad --username alice --password-stdin",
    "aesp login --bootstrap-token aesp-bootstrap-3f9c... --ca .aesp/ca.pem",
    "aesp --profile ops login --api-key aesp.acme.k_12ab.s3cr3t",
  );

  const logout = program
    .command("logout")
    .description("End the profile's sign-in: revoke its tokens at the Host and remove every credential from the profile.")
    .action(
      kit.action(async (ctx) => {
        const settings = await ctx.settings();
        let revoked = 0;
        if (settings.profile.refresh_token !== undefined && settings.profile.refresh_token !== "" && settings.apiKey === undefined) {
          try {
            // Refreshes first when the access token has expired, so re-read the rotated refresh token.
            const client = await ctx.client();
            const refreshToken = (await readProfiles(settings.profilePath)).profiles[settings.profileName]?.refresh_token ?? "";
            // Revoking the refresh token ends the whole sign-in (its token family), on every Host.
            const response = await client.services.authentication.revokeToken({ token: refreshToken, tokenTypeHint: "refresh_token", reason: "aesp logout" });
            if (response.revoked) revoked += 1;
          } catch (err) {
            ctx.note(`The Host did not confirm the revocation (${err instanceof Error ? err.message : String(err)}); the local credentials are removed anyway.`);
          }
        }
        await updateProfile(settings.profilePath, settings.profileName, { api_key: null, sign_in: null, access_token: null, access_token_expires_at: null, refresh_token: null });
        ctx.result({ profile: settings.profileName, revoked_tokens: revoked }, () =>
          `Logged out of profile "${settings.profileName}"${revoked > 0 ? " (the sign-in was revoked at the Host)" : ""}.`,
        );
      }),
    );
  kit.example(logout, "aesp logout", "aesp --profile ops logout");

  const whoami = program
    .command("whoami")
    .description("Show the principal, tenant and roles behind the current credentials.")
    .action(
      kit.action(async (ctx) => {
        const settings = await ctx.settings();
        const client = await ctx.client();
        const validated = await client.services.authentication.validateToken({ accessToken: (await client.accessToken()) ?? "" });
        if (!validated.valid) {
          throw new AespError({
            code: validated.reason === "EXPIRED" ? "TOKEN_EXPIRED" : "AUTHENTICATION_FAILED",
            message: `The Host does not accept the credentials of profile "${settings.profileName}" (${validated.reason || "invalid"}).`,
            details: { reason: validated.reason },
            remediation: [`Sign in again (aesp login${settings.profile.tenant === undefined ? "" : ` --tenant ${settings.profile.tenant}`} ${signInFlag(settings.profile.sign_in)}), or store a valid key with aesp login --api-key <key>.`],
          });
        }
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
          sign_in: value.refresh_token !== undefined && value.refresh_token !== "" ? (value.sign_in ?? "signed in") : "",
        }));
        ctx.result({ current: file.current, profiles: rows }, () =>
          formatTable(
            [
              { header: "PROFILE", value: (row) => (row.current ? `${row.name} *` : row.name) },
              { header: "HOST", value: (row) => row.host },
              { header: "TENANT", value: (row) => row.tenant },
              { header: "PRINCIPAL", value: (row) => row.principal },
              { header: "CREDENTIAL", value: (row) => (row.has_api_key ? "api key" : row.sign_in) },
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
