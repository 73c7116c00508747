/**
 * Real SIEM receivers on loopback for end-to-end tests: a syslog collector over TLS (RFC 5425
 * octet counting) with a throwaway openssl CA, and an HTTP webhook receiver that verifies
 * signatures and can be told to fail, hang or recover.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { parseOctetCountedFrames } from "../../packages/host/src/audit/forwarding/syslog-format.ts";
import { DELIVERY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from "../../packages/host/src/audit/forwarding/webhook-signing.ts";
import type { WebhookVerification } from "../../packages/host/src/audit/forwarding/webhook-signing.ts";

const run = promisify(execFile);

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost. */
export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  remove(): Promise<void>;
}

/** Creates a CA (P-256, 2 days) and a server certificate it signed. */
export async function createTestPki(commonName: string): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), "aesp-siem-pki-"));
  const p = (name: string) => path.join(dir, name);
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-keyout", p("ca.key"), "-out", p("ca.pem"), "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await writeFile(p("server.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=test collector"]);
  await run("openssl", [
    "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
    "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-extfile", p("server.ext"), "-out", p("server.pem"),
  ]);
  return {
    dir,
    caFile: p("ca.pem"),
    caPem: await readFile(p("ca.pem"), "utf8"),
    certPem: await readFile(p("server.pem"), "utf8"),
    keyPem: await readFile(p("server.key"), "utf8"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Polls `condition` on each event-loop turn (with a short pause) until it holds; the test's own timeout bounds it. */
export async function eventually<T>(probe: () => T | Promise<T>): Promise<NonNullable<T>>;
export async function eventually<T>(probe: () => T | Promise<T>, holds: (value: T) => boolean): Promise<T>;
export async function eventually<T>(probe: () => T | Promise<T>, holds: (value: T) => boolean = (value) => value !== undefined && value !== null && value !== false): Promise<T> {
  for (;;) {
    const value = await probe();
    if (holds(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A syslog-over-TLS collector. */
export interface SyslogReceiver {
  readonly port: number;
  readonly messages: string[];
  /** TLS versions the connections negotiated. */
  readonly protocols: string[];
  close(): Promise<void>;
}

/** Starts a TLS collector presenting `pki`'s server certificate. */
export async function startSyslogReceiver(pki: TestPki, options: { maxVersion?: tls.SecureVersion } = {}): Promise<SyslogReceiver> {
  const messages: string[] = [];
  const protocols: string[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ key: pki.keyPem, cert: pki.certPem, minVersion: "TLSv1.2", ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }) }, (socket) => {
    sockets.add(socket);
    protocols.push(socket.getProtocol() ?? "");
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      const parsed = parseOctetCountedFrames(Buffer.concat([pending, chunk]));
      messages.push(...parsed.messages);
      pending = parsed.rest;
    });
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    protocols,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One request the webhook receiver got. */
export interface WebhookDelivery {
  readonly path: string;
  readonly deliveryId: string;
  readonly verification: WebhookVerification;
  readonly body: unknown;
  /** Status the receiver answered. */
  readonly status: number;
}

/** A webhook receiver whose behaviour a test switches. */
export interface WebhookReceiver {
  readonly url: string;
  readonly deliveries: WebhookDelivery[];
  /** `ok`: 200; `fail`: 503; `hang`: hold the response until `release()`. */
  mode: "ok" | "fail" | "hang";
  /** Answer the next `n` requests with 503, then go back to the current mode. */
  failNext(n: number): void;
  /** Answers every held request with 200 and returns how many there were. */
  release(): number;
  /** Requests received while hanging (not yet answered). */
  readonly held: number;
  close(): Promise<void>;
}

/** Starts an HTTP receiver on loopback verifying signatures with `secret`. */
export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const deliveries: WebhookDelivery[] = [];
  const held: http.ServerResponse[] = [];
  let failures = 0;
  const state = { mode: "ok" as WebhookReceiver["mode"] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      const verification = verifyWebhookSignature({ secret, body: raw, timestamp: header(TIMESTAMP_HEADER), signature: header(SIGNATURE_HEADER), nowSeconds: Math.floor(Date.now() / 1000) });
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        body = undefined;
      }
      const status = failures > 0 || state.mode === "fail" ? 503 : 200;
      if (failures > 0) failures -= 1;
      deliveries.push({ path: req.url ?? "", deliveryId: header(DELIVERY_ID_HEADER) ?? "", verification, body, status: state.mode === "hang" && status === 200 ? 0 : status });
      if (state.mode === "hang" && status === 200) {
        held.push(res);
        return;
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    deliveries,
    get mode() {
      return state.mode;
    },
    set mode(mode) {
      state.mode = mode;
    },
    failNext(n) {
      failures = n;
    },
    release() {
      const n = held.length;
      for (const res of held.splice(0)) res.writeHead(200).end();
      return n;
    },
    get held() {
      return held.length;
    },
    async close() {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads one sample of a metric from the Host's /metrics page (0 when absent). */
export async function metricValue(gatewayUrl: string, caPem: string, name: string, labels: Record<string, string>): Promise<number> {
  const { default: https } = await import("node:https");
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(`${gatewayUrl}/metrics`, { ca: caPem }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (data += chunk));
        res.on("end", () => resolve(data));
      })
      .on("error", reject);
  });
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${selector}} `) || (selector === "" && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}
