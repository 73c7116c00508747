/**
 * Alerts to a chat channel through a Slack-compatible incoming webhook (`{text, blocks}`; Mattermost
 * and Rocket.Chat accept the same). The webhook URL is itself the credential, so it is configured
 * as a secret reference and never logged.
 */
import type { Alert } from "@aesp/core";
import type { HostMetrics } from "../observability/metrics.ts";
import { postJson } from "../audit/forwarding/https-post.ts";
import type { PostTarget } from "../audit/forwarding/https-post.ts";
import type { AlertConnector } from "./alert-dispatcher.ts";
import { withRetries } from "./retry.ts";
import type { RetryPolicy } from "./retry.ts";

const ICON: Record<Alert["severity"], string> = { INFO: ":information_source:", WARNING: ":warning:", HIGH: ":rotating_light:", CRITICAL: ":rotating_light:" };

/** Slack's mrkdwn needs `&`, `<` and `>` escaped; anything else is shown as typed. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The chat message of an alert.
 *
 * @returns `{text, blocks}`: `text` is the notification fallback, `blocks` the formatted message.
 */
export function chatMessage(alert: Alert): { text: string; blocks: unknown[] } {
  const text = `${ICON[alert.severity]} [${alert.severity}] ${mrkdwn(alert.title)}`;
  const fields = [
    ["Kind", alert.kind],
    ["Tenant", alert.tenantId === "" ? "(platform)" : alert.tenantId],
    ["Principal", alert.principalId === "" ? "-" : alert.principalId],
    ...Object.entries(alert.detail).slice(0, 6),
  ].map(([label, value]) => ({ type: "mrkdwn", text: `*${mrkdwn(String(label))}*\n${mrkdwn(String(value))}` }));
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${text}*` } },
      // Slack allows at most 10 fields per section.
      { type: "section", fields: fields.slice(0, 10) },
      { type: "context", elements: [{ type: "mrkdwn", text: `AESP Host · ${new Date(alert.raisedAt).toISOString()}` }] },
    ],
  };
}

/** {@link AlertConnector} for Slack-compatible incoming webhooks. */
export class ChatAlertConnector implements AlertConnector {
  readonly name = "chat";
  readonly #target: PostTarget;
  readonly #deps: { metrics: HostMetrics; retry: RetryPolicy };

  constructor(target: PostTarget, deps: { metrics: HostMetrics; retry: RetryPolicy }) {
    this.#target = target;
    this.#deps = deps;
  }

  async deliver(alert: Alert): Promise<void> {
    const body = JSON.stringify(chatMessage(alert));
    try {
      await withRetries(this.#deps.retry, () => postJson(this.#target, body, {}));
      this.#deps.metrics.alertsDelivered.inc({ connector: this.name });
    } catch (err) {
      this.#deps.metrics.alertsFailed.inc({ connector: this.name });
      throw err;
    }
  }
}
