import type { Logger } from "pino";
import type { Alert, AlertNotifier } from "@aesp/core";

/** One place an alert goes (the log, a webhook, a chat channel). */
export interface AlertConnector {
  readonly name: string;
  /** Delivers one alert; rejects when delivery failed (the dispatcher logs it). */
  deliver(alert: Alert): Promise<void>;
}

/**
 * Fans each alert out to every connector in the background. The log connector is always on, so an
 * alert is never lost silently even when no other connector is configured or one is down.
 */
export class AlertDispatcher implements AlertNotifier {
  readonly #logger: Logger;
  readonly #connectors: AlertConnector[];
  readonly #pending = new Set<Promise<void>>();

  constructor(deps: { logger: Logger; connectors?: readonly AlertConnector[] }) {
    this.#logger = deps.logger;
    this.#connectors = [...(deps.connectors ?? [])];
  }

  /** Adds a connector (e.g. once its configuration is loaded). */
  add(connector: AlertConnector): void {
    this.#connectors.push(connector);
  }

  raise(alert: Alert): void {
    const level = alert.severity === "CRITICAL" || alert.severity === "HIGH" ? "error" : alert.severity === "WARNING" ? "warn" : "info";
    this.#logger[level]({ alert: { kind: alert.kind, severity: alert.severity, tenantId: alert.tenantId, principalId: alert.principalId, detail: alert.detail } }, alert.title);
    for (const connector of this.#connectors) {
      const delivery = connector.deliver(alert).catch((error: unknown) => {
        this.#logger.warn({ err: error, connector: connector.name, kind: alert.kind }, "alert delivery failed");
      });
      this.#pending.add(delivery);
      void delivery.finally(() => this.#pending.delete(delivery));
    }
  }

  /** Waits for deliveries in flight (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.#pending]);
  }
}
