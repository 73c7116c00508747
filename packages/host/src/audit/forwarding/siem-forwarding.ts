/**
 * SIEM forwarding: every committed audit record goes, filtered, to each configured destination
 * (syslog over TLS, signed webhook) through its own bounded queue; what cannot be delivered is
 * dead-lettered in the store and replayed on demand.
 *
 * Records are taken from the audit log's `onCommitted` hook, so nothing is forwarded before it is
 * durable and forwarding never adds to the latency of `record()`.
 */
import { hostname } from "node:os";
import { readFile } from "node:fs/promises";
import type { AuditRecord, Clock, DeadLetterRecord, DeadLetterStore, IdSource } from "@aesp/core";
import { EnterpriseError } from "@aesp/core";
import type { AuditLog, AuditSeverity } from "@aesp/core/audit";
import type { Logger } from "pino";
import type { HostMetrics } from "../../observability/metrics.ts";
import { DeliveryQueue } from "./delivery-queue.ts";
import type { BatchSender, DeliveryQueueOptions } from "./delivery-queue.ts";
import { compileFilter, parseEventTypeList } from "./filters.ts";
import type { DestinationFilter } from "./filters.ts";
import { DeliveryError } from "./https-post.ts";
import { resolveSecretRef } from "./secret-ref.ts";
import { SyslogTlsSender } from "./syslog-sender.ts";
import { WebhookSender } from "./webhook-sender.ts";

/** A configured destination. */
export interface SiemDestination {
  readonly name: string;
  readonly filter: DestinationFilter;
  readonly sender: BatchSender;
}

/** What forwarding needs from the Host. */
export interface SiemForwardingDeps {
  readonly deadLetters: DeadLetterStore;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly metrics: HostMetrics;
  readonly logger: Logger;
}

/** Outcome of a replay. */
export interface ReplayOutcome {
  readonly replayed: number;
  readonly failed: number;
  /** Why the first failure failed, when one did. */
  readonly firstFailure: string;
}

/** The forwarding pipeline of one Host. */
export class SiemForwarding {
  readonly #deps: SiemForwardingDeps;
  readonly #routes: { queue: DeliveryQueue; accepts: (record: AuditRecord) => boolean; sender: BatchSender }[];

  constructor(deps: SiemForwardingDeps, destinations: readonly SiemDestination[], options: DeliveryQueueOptions) {
    this.#deps = deps;
    this.#routes = destinations.map((destination) => ({
      queue: new DeliveryQueue({ name: destination.name, sender: destination.sender, deadLetters: deps.deadLetters, clock: deps.clock, ids: deps.ids, metrics: deps.metrics, logger: deps.logger }, options),
      accepts: compileFilter(destination.filter),
      sender: destination.sender,
    }));
  }

  /** Names of the configured destinations. */
  get destinations(): string[] {
    return this.#routes.map((route) => route.queue.name);
  }

  /**
   * Subscribes to the audit log's committed batches.
   *
   * @returns Unsubscribe.
   */
  attach(log: AuditLog): () => void {
    return log.onCommitted((records) => this.offer(records));
  }

  /** Queues committed records on every destination whose filter accepts them. Synchronous. */
  offer(records: readonly AuditRecord[]): void {
    for (const route of this.#routes) route.queue.offer(records.filter(route.accepts));
  }

  /** Records waiting for a destination. */
  depth(destination: string): number {
    return this.#routes.find((route) => route.queue.name === destination)?.queue.depth ?? 0;
  }

  /** Waits until everything offered was delivered or dead-lettered (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.#routes.map((route) => route.queue.drain()));
  }

  /**
   * Delivers dead letters again, oldest first, one attempt each; each delivered one is removed.
   *
   * @param query.destination - Only this destination's (all when omitted).
   * @param query.deadLetterIds - Only these (all matching when empty).
   * @param query.limit - Most dead letters tried.
   */
  async replay(query: { destination?: string; deadLetterIds?: readonly string[]; limit: number }): Promise<ReplayOutcome> {
    const { deadLetters } = this.#deps;
    let letters: DeadLetterRecord[];
    if (query.deadLetterIds !== undefined && query.deadLetterIds.length > 0) {
      letters = [];
      for (const id of query.deadLetterIds.slice(0, query.limit)) {
        const letter = await deadLetters.get(id);
        if (letter !== null && (query.destination === undefined || letter.destination === query.destination)) letters.push(letter);
      }
    } else {
      letters = await deadLetters.list({ ...(query.destination === undefined ? {} : { destination: query.destination }), limit: query.limit });
    }
    let replayed = 0;
    let failed = 0;
    let firstFailure = "";
    for (const letter of letters) {
      const route = this.#routes.find((candidate) => candidate.queue.name === letter.destination);
      try {
        if (route === undefined) throw new DeliveryError(`the destination ${letter.destination} is not configured on this Host`);
        const records = JSON.parse(letter.payload) as AuditRecord[];
        // The dead letter's id doubles as the delivery id: a receiver that saw an earlier attempt can drop it.
        await route.sender.send(records, letter.deadLetterId);
        this.#deps.metrics.siemForwarded.inc({ destination: letter.destination }, records.length);
        if (await deadLetters.delete(letter.deadLetterId)) replayed += 1;
      } catch (err) {
        failed += 1;
        if (firstFailure === "") firstFailure = err instanceof DeliveryError ? err.message : "delivery failed";
      }
    }
    return { replayed, failed, firstFailure };
  }

  /** Stops retrying and dead-letters what is still queued. */
  async close(): Promise<void> {
    await Promise.all(this.#routes.map((route) => route.queue.close()));
  }
}

/** The `siem.*` keys {@link siemDestinationsFromConfig} reads. */
export interface SiemConfigValues {
  readonly "siem.syslog.address": string;
  readonly "siem.syslog.ca_file": string;
  readonly "siem.syslog.server_name": string;
  readonly "siem.syslog.tls_min_version": string;
  readonly "siem.syslog.hostname": string;
  readonly "siem.syslog.app_name": string;
  readonly "siem.syslog.enterprise_id": number;
  readonly "siem.syslog.event_types": string;
  readonly "siem.syslog.min_severity": string;
  readonly "siem.syslog.tenant": string;
  readonly "siem.webhook.url": string;
  readonly "siem.webhook.secret": string;
  readonly "siem.webhook.ca_file": string;
  readonly "siem.webhook.event_types": string;
  readonly "siem.webhook.min_severity": string;
  readonly "siem.webhook.tenant": string;
  readonly "siem.timeout_ms": number;
}

/**
 * Builds the destinations the configuration asks for, checking everything at start.
 *
 * @throws EnterpriseError INVALID_ARGUMENT naming the key when an address, URL, CA file or secret
 *   reference is unusable (never quoting the secret).
 */
export async function siemDestinationsFromConfig(v: SiemConfigValues, env: Readonly<Record<string, string | undefined>>, clock: Clock): Promise<SiemDestination[]> {
  const destinations: SiemDestination[] = [];
  if (v["siem.syslog.address"] !== "") {
    const { host, port } = parseAddress("siem.syslog.address", v["siem.syslog.address"]);
    const ca = await readCa("siem.syslog.ca_file", v["siem.syslog.ca_file"]);
    destinations.push({
      name: "syslog",
      filter: filterOf(v["siem.syslog.event_types"], v["siem.syslog.min_severity"], v["siem.syslog.tenant"]),
      sender: new SyslogTlsSender({
        host,
        port,
        ...(ca === undefined ? {} : { ca }),
        ...(v["siem.syslog.server_name"] === "" ? {} : { serverName: v["siem.syslog.server_name"] }),
        minVersion: v["siem.syslog.tls_min_version"] === "TLSv1.2" ? "TLSv1.2" : "TLSv1.3",
        timeoutMs: v["siem.timeout_ms"],
        identity: {
          hostname: v["siem.syslog.hostname"] === "" ? hostname() : v["siem.syslog.hostname"],
          appName: v["siem.syslog.app_name"],
          procId: String(process.pid),
          enterpriseId: v["siem.syslog.enterprise_id"],
        },
      }),
    });
  }
  if (v["siem.webhook.url"] !== "") {
    const url = parseUrl("siem.webhook.url", v["siem.webhook.url"]);
    if (v["siem.webhook.secret"] === "") throw invalid("siem.webhook.secret", "siem.webhook.url needs siem.webhook.secret (env:NAME or file:/path) to sign deliveries.");
    const secret = await resolveSecretRef("siem.webhook.secret", v["siem.webhook.secret"], env);
    const ca = await readCa("siem.webhook.ca_file", v["siem.webhook.ca_file"]);
    destinations.push({
      name: "webhook",
      filter: filterOf(v["siem.webhook.event_types"], v["siem.webhook.min_severity"], v["siem.webhook.tenant"]),
      sender: new WebhookSender({ url, ...(ca === undefined ? {} : { ca }), timeoutMs: v["siem.timeout_ms"] }, secret, clock),
    });
  }
  return destinations;
}

function filterOf(eventTypes: string, minSeverity: string, tenantId: string): DestinationFilter {
  return { eventTypes: parseEventTypeList(eventTypes), minSeverity: minSeverity as AuditSeverity, tenantId };
}

function invalid(key: string, message: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", { message, details: { key } });
}

function parseAddress(key: string, address: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65_535) throw invalid(key, `${key} must be host:port (e.g. siem.example.com:6514), got "${address}".`);
  return { host: match[1] ?? match[2] ?? "", port };
}

/**
 * Parses an endpoint URL: HTTPS, or plain HTTP only to a loopback address (a local relay or test).
 *
 * @throws EnterpriseError INVALID_ARGUMENT naming the key.
 */
export function parseUrl(key: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(key, `${key} is not a URL.`);
  }
  const loopback = url.hostname === "127.0.0.1" || url.hostname === "[::1]" || url.hostname === "localhost";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw invalid(key, `${key} must be an https:// URL (http:// only to a loopback relay).`);
  if (url.username !== "" || url.password !== "") throw invalid(key, `${key} must not carry credentials; webhooks are authenticated by their HMAC signature.`);
  return url;
}

/**
 * Reads a CA file named by a config key.
 *
 * @returns The PEM, or undefined when the key is empty.
 * @throws EnterpriseError INVALID_ARGUMENT when the file cannot be read or holds no certificate.
 */
export async function readCa(key: string, file: string): Promise<string | undefined> {
  if (file === "") return undefined;
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch {
    throw invalid(key, `${key}: cannot read ${file}.`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw invalid(key, `${key}: ${file} holds no PEM certificate.`);
  return pem;
}
