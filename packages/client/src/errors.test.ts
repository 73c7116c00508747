import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import { apiKeyTokenSource, isTokenExpired, tenantOfApiKey } from "./auth.ts";
import { AespError, toAespError } from "./errors.ts";

describe("toAespError", () => {
  test("prefers the EnterpriseError detail", () => {
    const detail = create(EnterpriseErrorSchema, {
      code: "QUOTA_EXCEEDED",
      message: "Quota exceeded.",
      retryAfterMs: 1500n,
      correlationId: "corr-1",
      details: { quota: "calls_per_minute" },
      remediationSteps: ["Wait.", "Ask for more quota."],
      escalationRequired: true,
    });
    const err = toAespError(new ConnectError("ignored", Code.ResourceExhausted, undefined, [{ desc: EnterpriseErrorSchema, value: detail }]));
    assert.equal(err.code, "QUOTA_EXCEEDED");
    assert.equal(err.message, "Quota exceeded.");
    assert.equal(err.status, Code.ResourceExhausted);
    assert.equal(err.retryAfterMs, 1500);
    assert.equal(err.correlationId, "corr-1");
    assert.deepEqual(err.details, { quota: "calls_per_minute" });
    assert.deepEqual(err.remediation, ["Wait.", "Ask for more quota."]);
    assert.equal(err.escalationRequired, true);
  });

  test("falls back to the Connect code, honouring retry and correlation headers", () => {
    const err = toAespError(new ConnectError("overloaded", Code.Unavailable, { "retry-after-ms": "250", "x-correlation-id": "corr-h" }));
    assert.equal(err.code, "UNAVAILABLE");
    assert.equal(err.message, "overloaded");
    assert.equal(err.retryAfterMs, 250);
    assert.equal(err.correlationId, "corr-h");
  });

  test("an unknown Connect code becomes INTERNAL_ERROR without retry advice", () => {
    const err = toAespError(new ConnectError("boom", Code.DataLoss));
    assert.equal(err.code, "INTERNAL_ERROR");
    assert.equal(err.retryAfterMs, 0);
  });

  test("an untrusted TLS certificate gets CA advice", () => {
    const tlsFailure = Object.assign(new Error("self-signed certificate in certificate chain"), { code: "SELF_SIGNED_CERT_IN_CHAIN" });
    const err = toAespError(new ConnectError("self-signed certificate in certificate chain", Code.Internal, undefined, undefined, tlsFailure));
    assert.equal(err.code, "UNAVAILABLE");
    assert.equal(err.details["reason"], "tls_certificate_untrusted");
    assert.match(err.remediation[0] ?? "", /--ca/);
  });

  test("finds an AespError wrapped by the Connect runtime", () => {
    const original = new AespError({ code: "AUTHENTICATION_FAILED", message: "bad key" });
    assert.equal(toAespError(new ConnectError("bad key", Code.Unknown, undefined, undefined, original)), original);
  });

  test("abort errors become CANCELLED and anything else INTERNAL_ERROR", () => {
    const abort = new Error("aborted");
    abort.name = "AbortError";
    assert.equal(toAespError(abort).code, "CANCELLED");
    assert.equal(toAespError("weird").code, "INTERNAL_ERROR");
  });
});

describe("API keys and token sources", () => {
  test("the tenant is read from the key", () => {
    assert.equal(tenantOfApiKey("aesp.acme-corp.k1.secret"), "acme-corp");
    for (const bad of ["", "aesp.acme.k1", "other.acme.k1.s", "aesp..k1.s", "aesp.a.b.c.d"]) {
      assert.throws(() => tenantOfApiKey(bad), (err: unknown) => err instanceof AespError && err.code === "INVALID_ARGUMENT", bad);
    }
  });

  test("apiKeyTokenSource renews at expiry minus skew, and after invalidation", async () => {
    let now = 1_000_000;
    let exchanges = 0;
    const source = apiKeyTokenSource({
      refreshSkewMs: 30_000,
      now: () => now,
      exchange: async () => {
        exchanges++;
        return { accessToken: `t${exchanges}`, expiresAtMs: now + 300_000 };
      },
    });
    assert.equal(await source.token(), "t1");
    now += 269_000;
    assert.equal(await source.token(), "t1", "still outside the skew");
    now += 2_000;
    assert.equal(await source.token(), "t2", "inside the skew: renewed");
    source.invalidate("t1");
    assert.equal(await source.token(), "t2", "invalidating a stale token changes nothing");
    source.invalidate("t2");
    assert.equal(await source.token(), "t3");
  });

  test("a failed exchange is not cached", async () => {
    let fail = true;
    const source = apiKeyTokenSource({
      refreshSkewMs: 1000,
      exchange: async () => {
        if (fail) throw new AespError({ code: "UNAVAILABLE", message: "down" });
        return { accessToken: "ok", expiresAtMs: Date.now() + 60_000 };
      },
    });
    await assert.rejects(source.token(), (err: unknown) => err instanceof AespError && err.code === "UNAVAILABLE");
    fail = false;
    assert.equal(await source.token(), "ok");
  });

  test("isTokenExpired reads the detail code", () => {
    const expired = new ConnectError("x", Code.Unauthenticated, undefined, [{ desc: EnterpriseErrorSchema, value: create(EnterpriseErrorSchema, { code: "TOKEN_EXPIRED" }) }]);
    const failed = new ConnectError("x", Code.Unauthenticated, undefined, [{ desc: EnterpriseErrorSchema, value: create(EnterpriseErrorSchema, { code: "AUTHENTICATION_FAILED" }) }]);
    assert.equal(isTokenExpired(expired), true);
    assert.equal(isTokenExpired(failed), false);
    assert.equal(isTokenExpired(new Error("x")), false);
  });
});
