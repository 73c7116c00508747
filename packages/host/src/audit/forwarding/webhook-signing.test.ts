import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_ID_HEADER, signWebhook, signedHeaders, verifyWebhookSignature } from "./webhook-signing.ts";

const secret = "whsec_0123456789abcdef0123456789abcdef";
const body = JSON.stringify({ delivery_id: "dlv_1", events: [{ eventType: "authz.denied" }] });

describe("webhook signatures", () => {
  it("is HMAC-SHA256 over `timestamp.body`, hex, prefixed v1=", () => {
    const expected = createHmac("sha256", secret).update(`1700000000.${body}`).digest("hex");
    assert.equal(signWebhook(secret, 1_700_000_000, body), `v1=${expected}`);
    const headers = signedHeaders(secret, "dlv_1", 1_700_000_000, body);
    assert.deepEqual(Object.keys(headers).sort(), [DELIVERY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER].sort());
    assert.equal(headers[TIMESTAMP_HEADER], "1700000000");
  });

  it("verifies a fresh delivery and refuses tampering, a wrong key and missing headers", () => {
    const headers = signedHeaders(secret, "dlv_1", 1_700_000_000, body);
    const check = (overrides: Partial<Parameters<typeof verifyWebhookSignature>[0]>) =>
      verifyWebhookSignature({ secret, body, timestamp: headers[TIMESTAMP_HEADER], signature: headers[SIGNATURE_HEADER], nowSeconds: 1_700_000_010, ...overrides });
    assert.equal(check({}), "ok");
    assert.equal(check({ body: body.replace("denied", "allowed") }), "bad_signature");
    assert.equal(check({ secret: "another-secret-of-enough-length" }), "bad_signature");
    assert.equal(check({ timestamp: "1700000001" }), "bad_signature", "the timestamp is signed: moving it forward breaks the signature");
    assert.equal(check({ signature: undefined }), "missing_headers");
    assert.equal(check({ timestamp: "soon" }), "missing_headers");
  });

  it("refuses a replay outside the tolerance window, in either direction", () => {
    const headers = signedHeaders(secret, "dlv_1", 1_700_000_000, body);
    const at = (nowSeconds: number, toleranceSeconds?: number) =>
      verifyWebhookSignature({ secret, body, timestamp: headers[TIMESTAMP_HEADER], signature: headers[SIGNATURE_HEADER], nowSeconds, ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }) });
    assert.equal(at(1_700_000_300), "ok", "at the edge of the default 5 minutes");
    assert.equal(at(1_700_000_301), "stale_timestamp");
    assert.equal(at(1_699_999_699), "stale_timestamp", "a timestamp from the future is refused too");
    assert.equal(at(1_700_000_061, 60), "stale_timestamp");
  });
});
