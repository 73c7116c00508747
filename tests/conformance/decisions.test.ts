/**
 * Authorization decisions as written in tests/conformance/cases/*.yaml (schema: cases/README.md),
 * run through the core with both policy engines (CEL, Cedar) and through one real Host over each
 * protocol of the gateway (Connect, gRPC, gRPC-Web), so no engine and no transport can change a
 * decision.
 *
 * - Core: the pipeline's own decision steps over a snapshot built by the core (decisions/core.ts).
 * - Gateway: tenants, roles, contracts, principals and policies set up over the wire and through
 *   governance (decisions/gateway.ts). Cases sharing a tenant run in stages, one per policy set
 *   (decisions/plan.ts); each case of a stage is invoked over every protocol in turn. Cedar cases
 *   run on a second Host whose tenants are set to the Cedar engine (SetTenantPolicyEngine), over
 *   Connect. Cases marked `core_only` are reported as skipped, with their reason.
 * - A case's `known_failure` (a product bug) still runs and is reported as TODO instead of failing.
 *
 * A summary per engine and runner is printed at the end.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { celPolicyEngine, type PolicyEngine } from "@aesp/core";
import { CedarPolicyEngine } from "../../packages/host/src/policy/cedar-engine.ts";
import { startTestHost, type TestHost } from "../support/harness.ts";
import { decideInCore } from "./decisions/core.ts";
import { CEDAR_PROTOCOL_SKIP, GatewayRunner, observedSourceAddress, PROTOCOLS } from "./decisions/gateway.ts";
import { describeObserved, mismatches, type Observed } from "./decisions/outcome.ts";
import { planTenants } from "./decisions/plan.ts";
import { ENGINES, LOOPBACK, loadCaseFiles, type DecisionCase, type EngineId } from "./decisions/schema.ts";
import { Tally } from "./decisions/summary.ts";

const files = loadCaseFiles(path.join(import.meta.dirname, "cases"));
const cases = files.flatMap((file) => file.cases);
const engines: Record<EngineId, PolicyEngine> = { cel: celPolicyEngine, cedar: new CedarPolicyEngine() };
const tally = new Tally();
for (const engine of ENGINES) tally.of(`core ${engine}`);
for (const engine of ENGINES) for (const protocol of PROTOCOLS) tally.of(`gateway ${protocol} ${engine}`);

/** The gateway runs no core-only case, and a case only on an engine it is written for. */
function gatewaySkip(c: DecisionCase, engine: EngineId = "cel"): string | null {
  if (c.coreOnly !== null) return `core only: ${c.coreOnly}`;
  return engineSkip(c, engine);
}

function engineSkip(c: DecisionCase, engine: EngineId): string | null {
  if (c.engines.includes(engine)) return null;
  return `written for ${c.engines.join(", ")} only: a policy has no ${engine}: condition`;
}

const tenants = planTenants(cases.filter((c) => gatewaySkip(c) === null));
const cedarTenants = planTenants(cases.filter((c) => gatewaySkip(c, "cedar") === null));
let setupNote = "";

/** Compares, records and asserts; a known failure is reported as TODO instead of failing. */
function judge(t: TestContext, runner: string, c: DecisionCase, engine: EngineId, observed: Observed): void {
  const found = mismatches(c.expect[engine], observed);
  const knownFailure = c.knownFailure[engine];
  tally.result(runner, c.id, found.length === 0, knownFailure !== null);
  if (found.length === 0) return;
  const message = `${c.file} ${c.id} (${runner}): ${found.join("; ")}\n  observed: ${describeObserved(observed)}`;
  if (knownFailure !== null) {
    t.todo(`known failure: ${knownFailure}`);
    t.diagnostic(message);
    return;
  }
  assert.fail(message);
}

describe(`authorization conformance: ${cases.length} cases in ${files.length} files`, () => {
  test("the case files hold at least 150 cases, and each engine runs some", () => {
    assert.ok(cases.length >= 150, `only ${cases.length} cases`);
    for (const engine of ENGINES) assert.ok(cases.some((c) => c.engines.includes(engine)), `no case runs on ${engine}`);
  });

  for (const engine of ENGINES) {
    describe(`core, ${engine}`, () => {
      const runner = `core ${engine}`;
      for (const file of files) {
        describe(file.topic, () => {
          for (const c of file.cases) {
            const skip = engineSkip(c, engine) ?? (c.gatewayOnly === null ? null : `gateway only: ${c.gatewayOnly}`);
            if (skip !== null) {
              tally.skip(runner, c.id, skip);
              test(c.id, { skip }, () => {});
              continue;
            }
            test(c.id, async (t) => judge(t, runner, c, engine, await decideInCore(c, engines[engine], engine)));
          }
        });
      }
    });
  }

  describe(`gateway: one Host, ${PROTOCOLS.join(", ")} in turn`, () => {
    let host: TestHost | undefined;
    let gateway: GatewayRunner | undefined;

    before(async () => {
      const started = performance.now();
      // Nobody approves held calls here: a REQUIRE_APPROVAL decision is refused at once with APPROVAL_REQUIRED.
      host = await startTestHost("sqlite", { "gateway.rate_limit_per_ip": 1_000_000, "gateway.rate_limit_per_principal": 1_000_000, "governance.call_approval_wait_seconds": 0 });
      const seen = await observedSourceAddress(host);
      assert.equal(seen, LOOPBACK, `the cases assume the gateway sees ${LOOPBACK} as the source address; it saw ${seen}`);
      gateway = await GatewayRunner.start(host, tenants);
      const stages = tenants.reduce((sum, tenant) => sum + tenant.stages.length, 0);
      setupNote = `Gateway: ${tenants.length} tenants set up in ${((performance.now() - started) / 1000).toFixed(1)} s; their cases ran in ${stages} policy stages.`;
    });

    after(async () => {
      gateway?.close();
      await host?.stop();
    });

    describe("cases not run through the gateway", () => {
      for (const c of cases) {
        if (c.engines.includes("cedar")) for (const protocol of PROTOCOLS.filter((p) => p !== "connect")) tally.skip(`gateway ${protocol} cedar`, c.id, CEDAR_PROTOCOL_SKIP);
        const cedarSkip = gatewaySkip(c, "cedar");
        if (cedarSkip !== null && c.engines.includes("cedar")) tally.skip("gateway connect cedar", c.id, cedarSkip);
        const skip = gatewaySkip(c);
        if (skip === null) continue;
        for (const protocol of PROTOCOLS) tally.skip(`gateway ${protocol} cel`, c.id, skip);
        test(c.id, { skip }, () => {});
      }
    });

    for (const tenant of tenants) {
      for (const stage of tenant.stages) {
        const policies = stage.policies.length === 0 ? "no policies" : stage.policies.map((p) => p.id).join(", ");
        describe(`tenant ${tenant.tenantId}, stage ${stage.index} (${policies})`, () => {
          before(async () => {
            await (gateway as GatewayRunner).enter(stage);
          });
          for (const c of stage.cases) {
            for (const protocol of PROTOCOLS) {
              const runner = `gateway ${protocol} cel`;
              test(`${c.id} over ${protocol}`, async (t) => {
                const running = gateway as GatewayRunner;
                const hostSkip = running.skipReason(tenant);
                if (hostSkip !== null) {
                  tally.skip(runner, c.id, hostSkip);
                  t.skip(hostSkip);
                  return;
                }
                judge(t, runner, c, "cel", await running.invoke(stage, c, protocol));
              });
            }
          }
        });
      }
    }
  });

  describe("gateway: Cedar tenants (SetTenantPolicyEngine), connect", () => {
    let host: TestHost | undefined;
    let gateway: GatewayRunner | undefined;

    before(async () => {
      host = await startTestHost("sqlite", { "gateway.rate_limit_per_ip": 1_000_000, "gateway.rate_limit_per_principal": 1_000_000, "governance.call_approval_wait_seconds": 0 });
      gateway = await GatewayRunner.start(host, cedarTenants, "cedar");
    });

    after(async () => {
      gateway?.close();
      await host?.stop();
    });

    for (const tenant of cedarTenants) {
      for (const stage of tenant.stages) {
        const policies = stage.policies.length === 0 ? "no policies" : stage.policies.map((p) => p.id).join(", ");
        describe(`tenant ${tenant.tenantId}, stage ${stage.index} (${policies})`, () => {
          before(async () => {
            await (gateway as GatewayRunner).enter(stage);
          });
          for (const c of stage.cases) {
            const runner = "gateway connect cedar";
            test(`${c.id} over connect`, async (t) => {
              const running = gateway as GatewayRunner;
              const hostSkip = running.skipReason(tenant);
              if (hostSkip !== null) {
                tally.skip(runner, c.id, hostSkip);
                t.skip(hostSkip);
                return;
              }
              judge(t, runner, c, "cedar", await running.invoke(stage, c, "connect"));
            });
          }
        });
      }
    }
  });

  after(() => {
    const lines = tally.lines(`Authorization conformance: ${cases.length} cases in ${files.length} files (tests/conformance/cases)`);
    console.log([...lines, ...(setupNote === "" ? [] : ["", setupNote])].join("\n"));
  });
});
