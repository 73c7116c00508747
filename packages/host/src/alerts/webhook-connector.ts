/**
 * Alerts to an HTTPS endpoint, signed like SIEM webhooks (HMAC-SHA256 over `timestamp.body`, a
 * delivery id per alert reused by its retries). Body: `{"delivery_id", "alert": {kind, severity,
 * tenant_id, principal_id, title, detail, raised_at}}`.
 */
import type { Alert, Clock, IdSource } from "@aesp/core";
import type { HostMetrics } from "../observability/metrics.ts";
import { postJson } from "../audit/forwarding/https-post.ts";
import type { PostTarget } from "../audit/forwarding/https-post.ts";
import { signedHeaders } from "../audit/forwarding/webhook-signing.ts";
import type { AlertConnector } from "./alert-dispatcher.ts";
import { withRetries } from "./retry.ts";
import type { RetryPolicy } from "./retry.ts";

/** The JSON an alert travels as (snake_case, like the wire). */
export function alertToJson(alert: Alert): Record<string, unknown> {
  return {
    kind: alert.kind,
    severity: alert.severity,
    tenant_id: alert.tenantId,
    principal_id: alert.principalId,
    title: alert.title,
    detail: alert.detail,
    raised_at: alert.raisedAt,
  };
}

/** {@link AlertConnector} posting signed JSON. */
export class WebhookAlertConnector implements AlertConnector {
  readonly name = "webhook";
  readonly #target: PostTarget;
  readonly #secret: string;
  readonly #deps: { clock: Clock; ids: IdSource; metrics: HostMetrics; retry: RetryPolicy };

  constructor(target: PostTarget, secret: string, deps: { clock: Clock; ids: IdSource; metrics: HostMetrics; retry: RetryPolicy }) {
    this.#target = target;
    this.#secret = secret;
    this.#deps = deps;
  }

  async deliver(alert: Alert): Promise<void> {
    const deliveryId = this.#deps.ids.newId("alr");
    const body = JSON.stringify({ delivery_id: deliveryId, alert: alertToJson(alert) });
    try {
      await withRetries(this.#deps.retry, () => postJson(this.#target, body, signedHeaders(this.#secret, deliveryId, Math.floor(this.#deps.clock.now() / 1000), body)));
      this.#deps.metrics.alertsDelivered.inc({ connector: this.name });
    } catch (err) {
      this.#deps.metrics.alertsFailed.inc({ connector: this.name });
      throw err;
    }
  }
}
