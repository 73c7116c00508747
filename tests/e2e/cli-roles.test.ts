/**
 * `aesp role …` against a real Host: a tenant administrator defines a role hierarchy, grants roles
 * to a service account and binds them to a directory group that a person signed in through a real
 * LDAP directory (slapd) belongs to; the person's rights change on their next command, checks
 * explain themselves, and refusals (escalation, cycles, usage) come back as readable errors with
 * the right exit codes.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { IdentityProviderService } from "@aesp/proto/identity_provider";
import { runAesp, type CliRun } from "../support/cli.ts";
import { startTestHost } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { startSlapd } from "../support/slapd.ts";
import type { SlapdHandle } from "../support/slapd.ts";

let t: TestHost;
let tenantAdmin: Actor;
let slapd: SlapdHandle;
let work: string;
let caPath: string;
const cleanups: Array<() => Promise<unknown>> = [];

async function aesp(args: string[], options: { env?: Record<string, string>; secret?: string } = {}): Promise<CliRun> {
  return runAesp(["--host", t.host.gatewayUrl, "--ca", caPath, ...args], { work, ...options });
}

/** Runs as the tenant administrator and requires success. */
async function admin(args: string[]): Promise<string> {
  const result = await aesp(args, { env: { AESP_API_KEY: tenantAdmin.apiKey } });
  assert.equal(result.code, 0, `aesp ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

before(async () => {
  slapd = await startSlapd();
  cleanups.push(() => slapd.stop());
  t = await startTestHost("sqlite");
  cleanups.push(() => t.stop());
  work = await mkdtemp(join(tmpdir(), "aesp-cli-roles-"));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  caPath = join(work, "ca.pem");
  await writeFile(caPath, t.host.caCertificatePem);
  tenantAdmin = await t.tenant("acme");
  // No claim mapping: the directory's groups reach principals, and roles come only from bindings.
  await tenantAdmin.client(IdentityProviderService).putIdentityProvider({
    tenantId: "acme",
    provider: {
      providerId: "corp-ldap",
      kind: "ldap",
      displayName: "Corporate directory",
      enabled: true,
      jitProvisioning: true,
      settings: {
        url: slapd.url,
        start_tls: true,
        tls_ca_pem: slapd.caPem,
        bind_dn: slapd.serviceBindDn,
        bind_password: slapd.servicePassword,
        user_base_dn: slapd.peopleDn,
        group_base_dn: slapd.groupsDn,
        nested_groups: "recursive",
      },
    },
  });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

void describe("aesp role", () => {
  let bot: string;

  test("create builds a hierarchy; list and show print it with inherited permissions", async () => {
    assert.match(await admin(["role", "create", "report-reader", "--permission", "reports:read", "--description", "Reads reports"]), /role:\s+report-reader/);
    await admin(["role", "create", "report-runner", "--permission", "reports:run", "--inherits", "report-reader"]);
    const created = JSON.parse(await admin(["--json", "role", "create", "analyst", "--permission", "dashboards:*", "--inherits", "report-runner,agent", "--justification", "quarterly close"])) as {
      name: string;
      inherits: string[];
      tenant_id: string;
    };
    assert.deepEqual([created.name, created.inherits, created.tenant_id], ["analyst", ["report-runner", "agent"], "acme"]);

    const table = await admin(["role", "list"]);
    assert.match(table, /^NAME\s+BUILT-IN\s+INHERITS\s+PERMISSIONS\s+GROUPS/m);
    assert.match(table, /^analyst\s+report-runner,agent\s+dashboards:\*,reports:read,reports:run,sessions:create,tools:invoke/m);
    assert.match(table, /^tenant-admin\s+yes\s+\*/m);

    const shown = await admin(["role", "show", "analyst"]);
    assert.match(shown, /own permissions:\s+dashboards:\*/);
    assert.match(shown, /inherited roles:\s+agent, report-reader, report-runner/);
    assert.match(shown, /all permissions:\s+dashboards:\*, reports:read, reports:run, sessions:create, tools:invoke, tools:list/);
    const json = JSON.parse(await admin(["--json", "role", "show", "report-runner"])) as { role: { name: string; built_in: boolean }; inherited_roles: string[]; effective_permissions: string[] };
    assert.deepEqual([json.role.name, json.role.built_in, json.inherited_roles, json.effective_permissions], ["report-runner", false, ["report-reader"], ["reports:read", "reports:run"]]);
  });

  test("assign, check, effective and revoke for a principal; check exits 1 when denied", async () => {
    const created = JSON.parse(await admin(["--json", "service-account", "create", "--name", "report-bot"])) as { service_account_id: string };
    bot = created.service_account_id;
    assert.match(bot, /^sa_/);
    const denied = await aesp(["role", "check", "--principal", bot, "--permission", "reports:run"], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(denied.code, 1);
    assert.match(denied.stdout, /^denied: no role or direct grant gives sa_\S+ reports:run \(deny by default\)\./);

    assert.match(await admin(["role", "assign", "report-runner", "--principal", bot, "--justification", "nightly reports"]), /report-runner granted to sa_\S+; its roles: report-runner\. Effective on the next call\./);
    assert.match(await admin(["role", "check", "--principal", bot, "--permission", "reports:read"]), /^granted: sa_\S+ holds reports:read through role report-reader\./);
    const check = JSON.parse(await admin(["--json", "role", "check", "--principal", bot, "--permission", "reports:run"])) as { granted: boolean; granted_by: string[] };
    assert.deepEqual([check.granted, check.granted_by], [true, ["report-runner"]]);
    const effective = JSON.parse(await admin(["--json", "role", "effective", "--principal", bot])) as { roles: string[]; permissions: string[]; clearance: string };
    assert.deepEqual([effective.roles, effective.permissions, effective.clearance], [["report-reader", "report-runner"], ["reports:read", "reports:run"], "internal"]);

    assert.match(await admin(["role", "revoke", "report-runner", "--principal", bot, "--reason", "retired"]), /report-runner withdrawn from sa_\S+; its roles: \(none\)\./);
    assert.equal((await aesp(["role", "check", "--principal", bot, "--permission", "reports:read"], { env: { AESP_API_KEY: tenantAdmin.apiKey } })).code, 1);
  });

  test("a role bound to a directory group reaches a person signed in through LDAP on their next command, and leaves on unbinding", async () => {
    // alice is in engineers, which is nested in staff and aesp-admins.
    const login = await aesp(["--profile", "alice", "login", "--tenant", "acme", "--ldap", "corp-ldap", "--username", "alice"], { secret: slapd.users.alice.password });
    assert.equal(login.code, 0, login.stderr);
    const alice = async (args: string[]) => aesp(["--profile", "alice", ...args]);
    const before = JSON.parse((await alice(["--json", "role", "effective"])).stdout) as { roles: string[]; groups: string[] };
    assert.deepEqual(before.roles, []);
    assert.ok(before.groups.includes("engineers"), `alice's directory groups: ${before.groups.join(", ")}`);
    assert.equal((await alice(["role", "check", "--permission", "reports:read"])).code, 1);

    assert.match(await admin(["role", "assign", "analyst", "--group", "engineers"]), /analyst granted to group "engineers"; its roles: analyst\./);
    const granted = await alice(["role", "check", "--permission", "reports:read"]);
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, /^granted: you hold reports:read through role report-reader\./);
    const shown = (await alice(["role", "effective"])).stdout;
    assert.match(shown, /roles:\s+agent, analyst, report-reader, report-runner/);
    assert.match(shown, /groups:\s+.*engineers/);
    assert.match(await admin(["role", "show", "analyst"]), /bound groups:\s+engineers/);
    assert.match(await admin(["role", "effective", "--group", "engineers"]), /roles:\s+agent, analyst, report-reader, report-runner/);

    assert.match(await admin(["role", "revoke", "analyst", "--group", "engineers", "--reason", "moved to a project role"]), /analyst withdrawn from group "engineers"; its roles: \(none\)\./);
    assert.equal((await alice(["role", "check", "--permission", "reports:read"])).code, 1);
    assert.deepEqual((JSON.parse((await alice(["--json", "role", "effective"])).stdout) as { roles: string[] }).roles, []);
  });

  test("refusals are readable: escalation, cycles, unknown roles and usage errors", async () => {
    await admin(["role", "create", "steward", "--permission", "roles:manage,roles:assign,roles:read,reports:read"]);
    const steward = JSON.parse(await admin(["--json", "service-account", "create", "--name", "steward", "--role", "steward"])) as { api_key: string };
    const escalation = await aesp(["role", "create", "report-boss", "--permission", "reports:*"], { env: { AESP_API_KEY: steward.api_key } });
    assert.equal(escalation.code, 1);
    assert.match(escalation.stderr, /^error AUTHORIZATION_DENIED: You cannot grant a permission you do not hold\./);
    assert.match(escalation.stderr, /reason: role_beyond_creator/);
    assert.match(escalation.stderr, /permission: reports:\*/);
    const grantAdmin = await aesp(["role", "assign", "tenant-admin", "--group", "engineers"], { env: { AESP_API_KEY: steward.api_key } });
    assert.equal(grantAdmin.code, 1);
    assert.match(grantAdmin.stderr, /AUTHORIZATION_DENIED/);

    const cycle = await aesp(["role", "create", "narcissus", "--inherits", "narcissus"], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(cycle.code, 1);
    assert.match(cycle.stderr, /^error INVALID_ARGUMENT: Role inheritance has a cycle\./);
    assert.match(cycle.stderr, /cycle: narcissus -> narcissus/);
    const unknown = await aesp(["role", "assign", "ghost", "--principal", bot], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown_role: ghost/);
    const missing = await aesp(["role", "show", "ghost"], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error NOT_FOUND/);

    const neither = await aesp(["role", "assign", "agent"], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(neither.code, 1);
    assert.match(neither.stderr, /^error INVALID_ARGUMENT: Name who: --principal <id> or --group <name>\./);
    const both = await aesp(["role", "revoke", "agent", "--principal", bot, "--group", "engineers"], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(both.code, 1);
    assert.match(both.stderr, /Give --principal or --group, not both\./);
    const empty = await aesp(["role", "create", "hollow"], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /at least one --permission or --inherits/);
    const noPermission = await aesp(["role", "check", "--principal", bot], { env: { AESP_API_KEY: tenantAdmin.apiKey } });
    assert.equal(noPermission.code, 2, "a missing required option is a usage error");
    assert.match(noPermission.stderr, /--permission <permission>/);
  });
});
