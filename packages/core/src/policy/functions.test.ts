import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PolicyRecord } from "../records.ts";
import { PolicySet } from "./evaluate.ts";
import { ipInCidr, parseIpAddress } from "./functions.ts";
import { BENCH_POLICY_INPUT } from "./bench.ts";

void describe("inCidr", () => {
  const cases: Array<[string, string, boolean]> = [
    ["10.1.2.3", "10.0.0.0/8", true],
    ["11.1.2.3", "10.0.0.0/8", false],
    ["192.168.1.255", "192.168.1.0/24", true],
    ["192.168.2.0", "192.168.1.0/24", false],
    ["0.0.0.0", "0.0.0.0/0", true],
    ["10.0.0.1", "10.0.0.1/32", true],
    ["10.0.0.2", "10.0.0.1/32", false],
    ["::ffff:10.1.2.3", "10.0.0.0/8", true],
    ["::ffff:10.1.2.3", "::ffff:10.0.0.0/104", true],
    ["2001:db8::1", "2001:db8::/32", true],
    ["2001:db9::1", "2001:db8::/32", false],
    ["::1", "::1/128", true],
    ["fe80::1:2:3:4", "fe80::/10", true],
    ["2001:db8::1", "10.0.0.0/8", false],
    ["10.1.2.3", "::/0", true],
  ];
  for (const [ip, cidr, expected] of cases) {
    void test(`${ip} in ${cidr} → ${expected}`, () => assert.equal(ipInCidr(ip, cidr), expected));
  }

  void test("malformed addresses and blocks are errors, never a quiet false", () => {
    for (const ip of ["", "10.1.2", "10.1.2.3.4", "256.1.1.1", "010.1.1.1", "1::2::3", "12345::", "fe80::1%eth0", "hello"]) {
      assert.equal(parseIpAddress(ip), null, ip);
      assert.throws(() => ipInCidr(ip, "10.0.0.0/8"), /not an IP address/, ip);
    }
    for (const cidr of ["10.0.0.0", "10.0.0.0/33", "::/129", "/8", "10.0.0.0/-1", "10.0.0.0/8/8", "x/8"]) {
      assert.throws(() => ipInCidr("10.1.2.3", cidr), /not a CIDR block/, cidr);
    }
  });
});

function policy(policyId: string, condition: string, effect: "ALLOW" | "DENY" = "ALLOW"): PolicyRecord {
  return {
    tenantId: "acme",
    policyId,
    name: policyId,
    description: "",
    version: 1,
    rule: { condition, effect, actions: [], parameters: {} },
    appliesTo: [],
    enabled: true,
    status: "ACTIVE",
    createdBy: "usr_test",
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
  };
}

void describe("the function library in policies", () => {
  const input = BENCH_POLICY_INPUT;
  const decide = (condition: string, effect: "ALLOW" | "DENY" = "ALLOW") => PolicySet.build([policy("pol_f", condition, effect)]).decide({ ...input, request: { ...input.request, sourceIp: "10.20.30.40" } });

  void test("inCidr over request.source_ip, single block and a list", () => {
    assert.equal(decide('inCidr(request.source_ip, "10.0.0.0/8")').effect, "ALLOW");
    assert.equal(decide('inCidr(request.source_ip, ["192.168.0.0/16", "172.16.0.0/12"])').effect, "DENY");
    assert.equal(decide('inCidr(request.source_ip, ["192.168.0.0/16", "10.20.0.0/16"])').effect, "ALLOW");
  });

  void test("classificationAtLeast orders levels; an unknown level fails closed", () => {
    assert.equal(decide('classificationAtLeast("confidential", "internal")').effect, "ALLOW");
    assert.equal(decide('classificationAtLeast("internal", "restricted")').effect, "DENY");
    const broken = decide('classificationAtLeast("secret", "internal")');
    assert.equal(broken.effect, "DENY");
    assert.match(broken.reason, /policy evaluation failed: pol_f/);
  });

  void test("a malformed block is an evaluation error: DENY even for a DENY policy that would not match", () => {
    const decision = decide('inCidr(request.source_ip, "10.0.0.0/99")', "DENY");
    assert.equal(decision.effect, "DENY");
    assert.match(decision.errors.join(" "), /not a CIDR block/);
  });

  void test("the strings extension is available (lowerAscii, split)", () => {
    assert.equal(decide('"Alice@Example.COM".lowerAscii().split("@")[1] == "example.com"').effect, "ALLOW");
  });

  void test("time windows with a time zone use the standard accessors", () => {
    // 2026-01-05T08:30:00Z is 09:30 in Paris, a Monday.
    const at = Date.UTC(2026, 0, 5, 8, 30);
    const monday = PolicySet.build([policy("pol_t", 'request.time.getHours("Europe/Paris") >= 9 && request.time.getDayOfWeek("Europe/Paris") == 1')]).decide({ ...input, request: { ...input.request, timeMs: at } });
    assert.equal(monday.effect, "ALLOW");
    const early = PolicySet.build([policy("pol_t", 'request.time.getHours("Europe/Paris") >= 10')]).decide({ ...input, request: { ...input.request, timeMs: at } });
    assert.equal(early.effect, "DENY");
  });
});
