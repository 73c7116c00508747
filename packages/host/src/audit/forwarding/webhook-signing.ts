/**
 * Signatures of webhook deliveries (SIEM forwarding and alert connectors).
 *
 * A delivery carries three headers:
 * - `aesp-delivery-id`: unique per delivery (a retry of the same batch reuses it), so a receiver
 *   can drop a delivery it already processed;
 * - `aesp-timestamp`: Unix seconds when this attempt was signed;
 * - `aesp-signature`: `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
 * A receiver recomputes the HMAC over the raw body, compares in constant time, and refuses a
 * timestamp outside its tolerance (default 5 minutes) so a captured delivery cannot be replayed
 * later; within the window the delivery id catches a replay.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const DELIVERY_ID_HEADER = "aesp-delivery-id";
export const TIMESTAMP_HEADER = "aesp-timestamp";
export const SIGNATURE_HEADER = "aesp-signature";

/** Default replay window of {@link verifyWebhookSignature}, seconds. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * The signature header value for one attempt.
 *
 * @param secret - The shared HMAC key.
 * @param timestampSeconds - Unix seconds of the attempt.
 * @param body - The exact bytes sent.
 * @returns `v1=<hex>`.
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string | Uint8Array): string {
  const mac = createHmac("sha256", secret);
  mac.update(`${String(timestampSeconds)}.`);
  mac.update(body);
  return `v1=${mac.digest("hex")}`;
}

/**
 * The headers of one signed attempt.
 *
 * @returns Headers to add to the POST.
 */
export function signedHeaders(secret: string, deliveryId: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    [DELIVERY_ID_HEADER]: deliveryId,
    [TIMESTAMP_HEADER]: String(timestampSeconds),
    [SIGNATURE_HEADER]: signWebhook(secret, timestampSeconds, body),
  };
}

/** Why a delivery was refused, or `ok`. */
export type WebhookVerification = "ok" | "missing_headers" | "bad_signature" | "stale_timestamp";

/**
 * Verifies a delivery as a receiver would (the Host uses it in tests; docs/guides/siem.md shows
 * the same steps in Node and Python).
 *
 * @param input.nowSeconds - The receiver's clock, Unix seconds.
 * @param input.toleranceSeconds - Largest accepted clock difference; default 300.
 */
export function verifyWebhookSignature(input: {
  secret: string;
  body: string | Uint8Array;
  timestamp: string | undefined;
  signature: string | undefined;
  nowSeconds: number;
  toleranceSeconds?: number;
}): WebhookVerification {
  if (input.timestamp === undefined || input.signature === undefined || !/^\d{1,12}$/.test(input.timestamp)) return "missing_headers";
  const expected = Buffer.from(signWebhook(input.secret, Number(input.timestamp), input.body));
  const given = Buffer.from(input.signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "bad_signature";
  if (Math.abs(input.nowSeconds - Number(input.timestamp)) > (input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return "stale_timestamp";
  return "ok";
}
