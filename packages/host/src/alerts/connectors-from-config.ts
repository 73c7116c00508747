/** Builds the alert connectors the `alerts.*` keys ask for, checking them at start. */
import type { Clock, IdSource } from "@aesp/core";
import { EnterpriseError } from "@aesp/core";
import type { HostMetrics } from "../observability/metrics.ts";
import { parseUrl, readCa } from "../audit/forwarding/siem-forwarding.ts";
import { resolveSecretRef } from "../audit/forwarding/secret-ref.ts";
import type { AlertConnector } from "./alert-dispatcher.ts";
import { ChatAlertConnector } from "./chat-connector.ts";
import { WebhookAlertConnector } from "./webhook-connector.ts";

/** The `alerts.*` keys read here. */
export interface AlertConfigValues {
  readonly "alerts.webhook.url": string;
  readonly "alerts.webhook.secret": string;
  readonly "alerts.webhook.ca_file": string;
  readonly "alerts.chat.url": string;
  readonly "alerts.chat.ca_file": string;
  readonly "alerts.max_attempts": number;
  readonly "alerts.retry_base_ms": number;
  readonly "siem.timeout_ms": number;
}

/**
 * @throws EnterpriseError INVALID_ARGUMENT naming the key when a URL, CA file or secret is unusable.
 */
export async function alertConnectorsFromConfig(
  v: AlertConfigValues,
  env: Readonly<Record<string, string | undefined>>,
  deps: { clock: Clock; ids: IdSource; metrics: HostMetrics },
): Promise<AlertConnector[]> {
  const connectors: AlertConnector[] = [];
  const retry = { maxAttempts: v["alerts.max_attempts"], baseMs: v["alerts.retry_base_ms"], maxMs: 60_000 };
  if (v["alerts.webhook.url"] !== "") {
    const url = parseUrl("alerts.webhook.url", v["alerts.webhook.url"]);
    if (v["alerts.webhook.secret"] === "") {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: "alerts.webhook.url needs alerts.webhook.secret (env:NAME or file:/path) to sign alerts.", details: { key: "alerts.webhook.secret" } });
    }
    const secret = await resolveSecretRef("alerts.webhook.secret", v["alerts.webhook.secret"], env);
    const ca = await readCa("alerts.webhook.ca_file", v["alerts.webhook.ca_file"]);
    connectors.push(new WebhookAlertConnector({ url, ...(ca === undefined ? {} : { ca }), timeoutMs: v["siem.timeout_ms"] }, secret, { ...deps, retry }));
  }
  if (v["alerts.chat.url"] !== "") {
    const url = parseUrl("alerts.chat.url", await resolveSecretRef("alerts.chat.url", v["alerts.chat.url"], env));
    const ca = await readCa("alerts.chat.ca_file", v["alerts.chat.ca_file"]);
    connectors.push(new ChatAlertConnector({ url, ...(ca === undefined ? {} : { ca }), timeoutMs: v["siem.timeout_ms"] }, { metrics: deps.metrics, retry }));
  }
  return connectors;
}
