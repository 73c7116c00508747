/**
 * Sends audit records to a syslog collector over TLS (RFC 5425): RFC 5424 messages, octet-counted,
 * on one long-lived connection that is re-opened on the next batch after any failure.
 *
 * The server certificate must chain to the configured CA and name the configured host; TLS 1.3 is
 * the default minimum (RFC 5425 allows 1.2, which `siem.syslog.tls_min_version` can permit for
 * older collectors). RFC 5425 has no application-level acknowledgement: a batch counts as
 * delivered once TLS accepted its bytes, so a collector that dies mid-stream can lose what was in
 * flight; the audit log itself remains the record of truth.
 */
import { isIP } from "node:net";
import tls from "node:tls";
import type { AuditRecord } from "@aesp/core";
import type { BatchSender } from "./delivery-queue.ts";
import { DeliveryError, networkReason } from "./https-post.ts";
import { formatSyslogMessage, frameOctetCounting } from "./syslog-format.ts";
import type { SyslogIdentity } from "./syslog-format.ts";

/** Where the collector listens and how to trust it. */
export interface SyslogTarget {
  readonly host: string;
  readonly port: number;
  /** PEM of the CA the collector's certificate must chain to; undefined: the system's CAs. */
  readonly ca?: string;
  /** Name the certificate must carry (and SNI); default `host`. */
  readonly serverName?: string;
  readonly minVersion: "TLSv1.2" | "TLSv1.3";
  readonly timeoutMs: number;
  readonly identity: SyslogIdentity;
}

/** {@link BatchSender} for syslog over TLS. */
export class SyslogTlsSender implements BatchSender {
  readonly #target: SyslogTarget;
  #socket: tls.TLSSocket | null = null;

  constructor(target: SyslogTarget) {
    this.#target = target;
  }

  /** Writes the batch as octet-counted frames; rejects when the connection or the write fails. */
  async send(records: readonly AuditRecord[]): Promise<void> {
    const socket = await this.#connect();
    const frames = Buffer.concat(records.map((record) => frameOctetCounting(formatSyslogMessage(record, this.#target.identity))));
    await new Promise<void>((resolve, reject) => {
      socket.write(frames, (err) => {
        if (err === null || err === undefined) resolve();
        else {
          this.#drop(socket);
          reject(new DeliveryError(networkReason(err)));
        }
      });
    });
  }

  /** Closes the connection. */
  close(): void {
    if (this.#socket !== null) this.#drop(this.#socket);
  }

  #connect(): Promise<tls.TLSSocket> {
    const open = this.#socket;
    if (open !== null && !open.destroyed && open.writable) return Promise.resolve(open);
    const { host, port, ca, serverName, minVersion, timeoutMs } = this.#target;
    const name = serverName ?? host;
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        ...(ca === undefined ? {} : { ca }),
        // SNI carries host names only; an IP address is still checked against the certificate's IP SANs.
        ...(isIP(name) === 0 ? { servername: name } : {}),
        checkServerIdentity: (_hostname, cert) => tls.checkServerIdentity(name, cert),
        minVersion,
        rejectUnauthorized: true,
      });
      socket.setTimeout(timeoutMs);
      const fail = (err: unknown) => {
        socket.destroy();
        reject(new DeliveryError(err instanceof DeliveryError ? err.message : networkReason(err)));
      };
      socket.once("timeout", () => fail(new DeliveryError(`no TLS handshake within ${String(timeoutMs)} ms`)));
      socket.once("error", fail);
      socket.once("secureConnect", () => {
        socket.off("error", fail);
        socket.setTimeout(0);
        // The collector never writes; reading keeps a closed connection noticed.
        socket.resume();
        socket.on("error", () => this.#drop(socket));
        socket.on("close", () => this.#drop(socket));
        socket.on("end", () => this.#drop(socket));
        this.#socket = socket;
        resolve(socket);
      });
    });
  }

  #drop(socket: tls.TLSSocket): void {
    if (this.#socket === socket) this.#socket = null;
    socket.destroy();
  }
}
