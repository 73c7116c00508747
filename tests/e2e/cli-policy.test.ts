/**
 * `aesp policy …` against a real Host: validate a file (issues with line:col, exit 1 on errors),
 * test candidates on synthetic cases and on the recorded decisions of a window (changed calls as a
 * table, exit 1 when an expectation fails), submit (create, then update, with an approval
 * request), list, show and delete. The example policy files are the ones shipped in
 * examples/policies/, so they are kept valid by this test.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { runAesp, type CliRun } from "../support/cli.ts";
import { startTestHost, textStatsContract } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";
import { connectRawRuntime } from "../support/raw-runtime.ts";
import type { RawRuntime } from "../support/raw-runtime.ts";

const examples = resolve(import.meta.dirname, "../../examples/policies");

let t: TestHost;
let admin: Actor;
let approver: Actor;
let agent: Actor;
let runtime: RawRuntime;
let work: string;
let caPath: string;

async function aesp(args: string[], apiKey = admin.apiKey): Promise<CliRun> {
  return runAesp(["--host", t.host.gatewayUrl, "--ca", caPath, ...args], { work, env: { AESP_API_KEY: apiKey } });
}

async function ok(args: string[], apiKey?: string): Promise<string> {
  const result = await aesp(args, apiKey);
  assert.equal(result.code, 0, `aesp ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

async function invoke(correlationId: string, text: string, sessionId: string): Promise<void> {
  await agent.client(ToolService).invokeTool({ sessionId, call: { name: "text_stats", args: { text } } }, { headers: { "x-correlation-id": correlationId } });
}

before(async () => {
  t = await startTestHost("sqlite");
  work = await mkdtemp(join(tmpdir(), "aesp-cli-policy-"));
  caPath = join(work, "ca.pem");
  await writeFile(caPath, t.host.caCertificatePem);
  admin = await t.tenant("acme");
  approver = await t.actor("approver", ["approver"], admin);
  agent = await t.actor("agent", ["agent"], admin);
  await t.activate(textStatsContract, admin, approver);
  runtime = await connectRawRuntime({
    url: t.host.runtimePlaneUrl,
    credentials: await t.enroll(admin, "text-tools", ["text_stats"]),
    contracts: ["text_stats@1.0.0"],
    handlers: {
      "text_stats@1.0.0": async (call) => {
        const text = call.call?.args?.["text"];
        return { words: 1, characters: typeof text === "string" ? text.length : 0 };
      },
    },
  });
  const { sessionId } = await agent.client(SessionService).createSession({});
  await invoke("cli-short", "hello", sessionId);
  await invoke("cli-long", "l".repeat(150), sessionId);
  await writeFile(
    join(work, "broken.yaml"),
    ["policy_id: broken", "name: Broken", "rule:", "  effect: DENY", "  condition: |", "    has(args.text) &&", '      principal.rolez == "x"', "applies_to: [contract:text_stats, contract:txt_stats]", ""].join("\n"),
  );
  await writeFile(
    join(work, "deny-long.yaml"),
    ["policy_id: deny-long", "name: Deny long texts", "rule:", "  effect: DENY", "  condition: has(args.text) && size(args.text) > 100", "applies_to: [contract:text_stats]", ""].join("\n"),
  );
  await writeFile(
    join(work, "wrong-cases.yaml"),
    ['- name: "expects the wrong thing"', "  resource: text_stats", "  context: { args: { text: hi } }", "  expected_decision: DENY", ""].join("\n"),
  );
});

after(async () => {
  runtime?.close();
  await t?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

void describe("aesp policy", () => {
  void test("validate prints every issue with field and line:col under the condition, and exits 1 on errors", async () => {
    const result = await aesp(["policy", "validate", "broken.yaml"]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /broken\.yaml: invalid: 1 error, 1 warning/);
    assert.match(result.stdout, /ERROR {3}rule\.condition 2:13 {2}principal has no field "rolez" \(did you mean "roles"\?\)/);
    assert.match(result.stdout, / {10}\| {3}principal\.rolez == "x"\n {10}\| {13}\^/);
    assert.match(result.stdout, /WARNING applies_to\[1\] {2}this tenant has no contract "txt_stats"/);
    assert.match(result.stdout, /Policy validation failed\./);
    const json = JSON.parse((await aesp(["--json", "policy", "validate", "broken.yaml"])).stdout) as { results: { valid: boolean; issues: { line: number; column: number }[] }[] };
    assert.equal(json.results[0]?.valid, false);
    assert.deepEqual([json.results[0]?.issues[0]?.line, json.results[0]?.issues[0]?.column], [2, 13]);
  });

  void test("validate accepts the shipped examples", async () => {
    const out = await ok(["policy", "validate", join(examples, "limit-long-texts.yaml"), join(examples, "audit-service-accounts.yaml")]);
    assert.match(out, /limit-long-texts\.yaml: valid/);
    assert.match(out, /The policies are valid\./);
  });

  void test("test decides the example cases with their fixed clock, and exits 1 when an expectation fails", async () => {
    const out = await ok(["policy", "test", join(examples, "limit-long-texts.yaml"), "--cases", join(examples, "cases.yaml")]);
    assert.match(out, /Cases: 4 of 4 passed\./);
    assert.match(out, /a long text on a Saturday is denied\s+DENY\s+DENY\s+pass\s+limit-long-texts:DENY/);
    const failing = await aesp(["policy", "test", "deny-long.yaml", "--cases", "wrong-cases.yaml"]);
    assert.equal(failing.code, 1);
    assert.match(failing.stdout, /Cases: 0 of 1 passed\./);
    assert.match(failing.stdout, /expects the wrong thing\s+DENY\s+ALLOW\s+FAIL/);
    const nothing = await aesp(["policy", "test", "deny-long.yaml"]);
    assert.notEqual(nothing.code, 0);
    assert.match(nothing.stderr, /Give --cases, --since, or both/);
  });

  void test("test --since replays the recorded calls and tabulates exactly those whose decision changes", async () => {
    const out = await ok(["policy", "test", "deny-long.yaml", "--since", "1h"]);
    assert.match(out, /Replayed 2 recorded decisions \(.* to now\): 1 would change \(1 newly denied, 0 newly allowed\)\./);
    assert.match(out, /EVENT\s+CORRELATION\s+PRINCIPAL\s+RESOURCE\s+BEFORE\s+AFTER\s+POLICIES/);
    const rows = out.split("\n").filter((line) => line.startsWith("evt_"));
    assert.equal(rows.length, 1, out);
    assert.match(rows[0] ?? "", new RegExp(`cli-long\\s+${agent.principalId}\\s+contract:text_stats@1\\.0\\.0\\s+ALLOW\\s+DENY\\s+deny-long`));
    const json = JSON.parse(await ok(["--json", "policy", "test", "deny-long.yaml", "--since", "1h"])) as { replay: { decisions_changed: number; samples: { correlation_id: string }[] } };
    assert.equal(json.replay.decisions_changed, 1);
    assert.deepEqual(json.replay.samples.map((s) => s.correlation_id), ["cli-long"]);
  });

  void test("submit creates, then updates by policy_id; --dry-run stores nothing; --request-approval opens the request", async () => {
    const file = join(examples, "limit-long-texts.yaml");
    assert.match(await ok(["policy", "submit", file]), /Created limit-long-texts version 1 \(DRAFT\)\./);
    assert.match(await ok(["policy", "submit", file, "--dry-run"]), /Would store limit-long-texts version 2 \(DRAFT\)\./);
    const requested = await ok(["policy", "submit", file, "--request-approval", "--justification", "office hours"]);
    assert.match(requested, /Updated limit-long-texts version 2 and requested its approval\./);
    const approvalId = /approval request: (apr_\S+)/.exec(requested)?.[1] ?? "";
    assert.notEqual(approvalId, "");
    assert.match(await ok(["approval", "approve", approvalId], approver.apiKey), /APPROVED/);
    const conflict = await aesp(["policy", "submit", file, "--expected-version", "1"]);
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /error CONFLICT/);
    const refused = await aesp(["policy", "submit", "broken.yaml"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /rule\.condition 2:13/);
    assert.match(refused.stdout, /Not submitted/);
    await assertNotStored("broken");
  });

  void test("list and show read the tenant's policies", async () => {
    const table = await ok(["policy", "list"]);
    assert.match(table, /ID\s+VERSION\s+STATUS\s+EFFECT\s+ENABLED\s+APPLIES TO\s+NAME/);
    assert.match(table, /limit-long-texts\s+2\s+ACTIVE\s+DENY\s+yes\s+contract:text_stats\s+Long texts only in working hours/);
    assert.match(await ok(["policy", "list", "--status", "DRAFT"]), /limit-long-texts\s+1\s+DRAFT/);
    const shown = await ok(["policy", "show", "limit-long-texts"]);
    assert.match(shown, /policy:\s+limit-long-texts version 2/);
    assert.match(shown, /condition:\n {2}has\(args\.text\) && size\(args\.text\) > 100 &&/);
    const v1 = JSON.parse(await ok(["--json", "policy", "show", "limit-long-texts", "--version", "1"])) as { version: string; status: string };
    assert.deepEqual([v1.version, v1.status], ["1", "DRAFT"]);
    const missing = await aesp(["policy", "show", "no-such-policy"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /error NOT_FOUND/);
  });

  void test("rollout start, status, list, promote and stop; a canary points at its approval, and the errors say what is wrong", async () => {
    assert.match(await ok(["policy", "submit", "deny-long.yaml"]), /Created deny-long version 1 \(DRAFT\)\./);
    const started = await ok(["policy", "rollout", "start", "deny-long", "--version", "1", "--mode", "shadow", "--min-samples", "50"]);
    assert.match(started, /policy:\s+deny-long: version 1 against no ACTIVE version/);
    assert.match(started, /status:\s+RUNNING/);
    assert.match(started, /rolls back:\s+above a rate of 0\.05 after 50 calls/);
    const rolloutId = /aesp policy rollout status (rol_\S+)/.exec(started)?.[1] ?? "";
    assert.notEqual(rolloutId, "");
    assert.match(await ok(["policy", "rollout", "list", "--status", "RUNNING"]), new RegExp(`${rolloutId}\\s+deny-long\\s+1\\s+-\\s+SHADOW\\s+RUNNING\\s+0\\s+0`));
    const json = JSON.parse(await ok(["--json", "policy", "rollout", "status", rolloutId])) as { mode: string; status: string; threshold: number };
    assert.deepEqual([json.mode, json.status, json.threshold], ["SHADOW", "RUNNING", 0.05]);
    const promote = await aesp(["policy", "rollout", "promote", rolloutId, "--reason", "go"], approver.apiKey);
    assert.notEqual(promote.code, 0);
    assert.match(promote.stderr, /error INVALID_STATE_TRANSITION/);
    assert.match(promote.stderr, /A shadow never acts/);
    const denied = await aesp(["policy", "rollout", "stop", rolloutId, "--reason", "mine"], agent.apiKey);
    assert.match(denied.stderr, /error AUTHORIZATION_DENIED/);
    assert.match(await ok(["policy", "rollout", "stop", rolloutId, "--reason", "seen enough"], approver.apiKey), /status:\s+STOPPED[\s\S]*ended:.*seen enough/);

    const canary = await ok(["policy", "rollout", "start", "deny-long", "--version", "1", "--mode", "canary", "--percent", "10", "--principal", "role:agent"]);
    assert.match(canary, /status:\s+PENDING_APPROVAL/);
    assert.match(canary, /cohort:\s+10% of principals; role:agent/);
    assert.match(canary, /The canary starts once approved by another principal: aesp approval approve apr_\S+/);
    const canaryId = /rollout:\s+(rol_\S+)/.exec(canary)?.[1] ?? "";
    assert.match(await ok(["policy", "rollout", "stop", canaryId, "--reason", "not now"], approver.apiKey), /status:\s+STOPPED/);
    const bad = await aesp(["policy", "rollout", "start", "deny-long", "--version", "1", "--mode", "canary", "--threshold", "2"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--threshold must be a disagreement rate in \(0, 1\]/);
  });

  void test("delete requests the deletion through approval; the policy acts until it is approved", async () => {
    const out = await ok(["policy", "delete", "limit-long-texts", "--reason", "no longer needed"]);
    assert.match(out, /Deletion of limit-long-texts requested as version 3 \(PENDING_APPROVAL\); the policy acts until it is approved\./);
    const approvalId = /approval request: (apr_\S+)/.exec(out)?.[1] ?? "";
    await approver.client(EnterpriseGovernanceService).adjudicateApproval({ approvalRequestId: approvalId, decision: "APPROVE" });
    assert.match(await ok(["policy", "delete", "limit-long-texts", "--reason", "again"]), /limit-long-texts is deleted already\./);
    assert.match(await ok(["policy", "list", "--status", "RETIRED"]), /limit-long-texts\s+3\s+RETIRED/);
  });
});

async function assertNotStored(policyId: string): Promise<void> {
  const { policies } = await admin.client(EnterprisePolicyService).listPolicies({});
  assert.ok(!policies.some((p) => p.policyId === policyId));
}
