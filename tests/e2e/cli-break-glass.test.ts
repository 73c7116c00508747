/**
 * `aesp break-glass …` against a real Host (SQLite): an operator activates an emergency override
 * limited to one contract (a DENY policy refuses the call before, the call goes on after), lists
 * it, is refused a second one and a bad duration with readable errors, ends it; the holder cannot
 * review their own grant; an approver reviews it; `list --pending-review` empties.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { ResultStatus } from "@aesp/proto/adm";
import { runAesp, type CliRun } from "../support/cli.ts";
import { assertRefused, startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawRuntime } from "../support/raw-runtime.ts";

let t: TestHost;
let admin: Actor;
let approver: Actor;
let oncall: Actor;
let runtime: RawRuntime;
let work: string;
let caPath: string;
let sessionId: string;

async function aesp(args: string[], apiKey: string): Promise<CliRun> {
  return runAesp(["--host", t.host.gatewayUrl, "--ca", caPath, ...args], { work, env: { AESP_API_KEY: apiKey } });
}

async function ok(args: string[], apiKey: string): Promise<string> {
  const result = await aesp(args, apiKey);
  assert.equal(result.code, 0, `aesp ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const invoke = () => oncall.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text: "fix it" } } });

before(async () => {
  t = await startTestHost("sqlite");
  work = await mkdtemp(join(tmpdir(), "aesp-cli-break-glass-"));
  caPath = join(work, "ca.pem");
  await writeFile(caPath, t.host.caCertificatePem);
  admin = await t.tenant("acme");
  approver = await t.actor("approver", ["approver"], admin);
  oncall = await t.actor("oncall", ["agent", "break-glass-operator", "approver"], admin);
  await t.activate(textStatsContract, admin, approver);
  runtime = await connectRawRuntime({
    url: t.host.runtimePlaneUrl,
    credentials: await t.enroll(admin, "text-tools", ["text_stats"]),
    contracts: ["text_stats@1.0.0"],
    handlers: { "text_stats@1.0.0": async () => ({ words: 2, characters: 6 }) },
  });
  const created = await admin.client(EnterprisePolicyService).createPolicy({
    policy: { policyId: "freeze", name: "Change freeze", rule: { condition: "true", effect: "DENY", actions: ["tools:invoke"] }, appliesTo: ["contract:text_stats"], enabled: true },
  });
  const requested = await admin.client(EnterpriseGovernanceService).requestApproval({ artifactType: "POLICY", artifactId: `${created.policy?.policyId}@1`, justification: "freeze" });
  if (requested.responseType.case !== "successDetails") throw new Error("approval not requested");
  await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: requested.responseType.value.approvalRequestId, decision: "APPROVE" });
  ({ sessionId } = await oncall.client(SessionService).createSession({}));
});

after(async () => {
  runtime?.close();
  await t?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

void describe("aesp break-glass", () => {
  let grantId = "";

  void test("activate: refused with readable errors for a short justification and a bad duration; then active, and the refused call goes on", async () => {
    await assertRefused(invoke(), "POLICY_VIOLATION", Code.PermissionDenied);
    const short = await aesp(["break-glass", "activate", "--justification", "urgent", "--duration", "30m"], oncall.apiKey);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /^error INVALID_ARGUMENT: A break-glass justification must explain the emergency in 20 to 2000 characters\./);
    const long = await aesp(["break-glass", "activate", "--justification", "INC-4711: payments outage, freeze blocks the fix", "--duration", "2h"], oncall.apiKey);
    assert.equal(long.code, 1);
    assert.match(long.stderr, /field: duration_seconds/);
    assert.match(long.stderr, /max: 3600/);
    const garbled = await aesp(["break-glass", "activate", "--justification", "INC-4711: payments outage, freeze blocks the fix", "--duration", "soon"], oncall.apiKey);
    assert.equal(garbled.code, 1);
    assert.match(garbled.stderr, /--duration must be a duration such as 15m, 1h or 900/);

    const out = await ok(["break-glass", "activate", "--justification", "INC-4711: payments outage, freeze blocks the fix", "--duration", "30m", "--contract", "text_stats"], oncall.apiKey);
    assert.match(out, /status: +ACTIVE/);
    assert.match(out, /contracts: +text_stats/);
    assert.match(out, /aesp break-glass end bgl_\S+ --reason/);
    grantId = /grant: +(bgl_\S+)/.exec(out)?.[1] ?? "";
    assert.notEqual(grantId, "");
    assert.equal((await invoke()).result?.status, ResultStatus.SUCCESS);

    const again = await aesp(["break-glass", "activate", "--justification", "INC-4711: payments outage, freeze blocks the fix", "--duration", "5m"], oncall.apiKey);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error ALREADY_EXISTS: You already hold an active break-glass grant/);
  });

  void test("list shows the grant; --json gives proto JSON", async () => {
    const table = await ok(["break-glass", "list"], admin.apiKey);
    assert.match(table, /GRANT +HOLDER +STATUS +CONTRACTS/);
    assert.match(table, new RegExp(`${grantId} +${oncall.principalId} +ACTIVE +text_stats`));
    const json = JSON.parse(await ok(["--json", "break-glass", "list", "--pending-review"], approver.apiKey)) as { items: { grant_id: string; review_status: string; first_used_at: string }[] };
    assert.deepEqual(json.items.map((g) => [g.grant_id, g.review_status]), [[grantId, "PENDING"]]);
    assert.notEqual(json.items[0]?.first_used_at, "0", "the use was recorded");
  });

  void test("end, then the call is refused again; the holder cannot review their own grant; an approver reviews it", async () => {
    const early = await aesp(["break-glass", "review", grantId, "--outcome", "justified", "--comments", "ok"], approver.apiKey);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /^error INVALID_STATE_TRANSITION: The grant is still active/);
    assert.match(await ok(["break-glass", "end", grantId, "--reason", "outage resolved"], oncall.apiKey), new RegExp(`Break-glass grant ${grantId} ended\\. Its review is due by `));
    await assertRefused(invoke(), "POLICY_VIOLATION", Code.PermissionDenied);

    const self = await aesp(["break-glass", "review", grantId, "--outcome", "justified", "--comments", "I was right"], oncall.apiKey);
    assert.equal(self.code, 1);
    assert.match(self.stderr, /^error SELF_APPROVAL_FORBIDDEN: The holder of a break-glass grant cannot review it/);
    const bad = await aesp(["break-glass", "review", grantId, "--outcome", "fine", "--comments", "x"], approver.apiKey);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--outcome must be justified or unjustified/);

    assert.match(await ok(["break-glass", "review", grantId, "--outcome", "justified", "--comments", "matches INC-4711"], approver.apiKey), /reviewed: JUSTIFIED/);
    assert.match(await ok(["break-glass", "list", "--pending-review"], approver.apiKey), /\(none\)/);
  });
});
