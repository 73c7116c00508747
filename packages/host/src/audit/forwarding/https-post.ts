/**
 * One JSON POST over HTTPS (or HTTP on loopback for tests and local relays), trusting a configured
 * CA, with a deadline. Resolves on any 2xx; rejects otherwise with a reason that carries the status
 * but never the response body or the request's headers (which hold signatures).
 */
import http from "node:http";
import https from "node:https";

/** Where and how to POST. */
export interface PostTarget {
  readonly url: URL;
  /** PEM of the CA that must have issued the server's certificate; undefined: the system's CAs. */
  readonly ca?: string;
  readonly timeoutMs: number;
}

/** A failed POST; `message` is safe to log and to store in a dead letter. */
export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
}

/**
 * POSTs `body` as JSON.
 *
 * @throws DeliveryError on a network error, a timeout or a non-2xx status.
 */
export function postJson(target: PostTarget, body: string, headers: Record<string, string>): Promise<void> {
  const secure = target.url.protocol === "https:";
  const request = secure ? https.request : http.request;
  return new Promise<void>((resolve, reject) => {
    const req = request(
      target.url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers },
        timeout: target.timeoutMs,
        ...(secure ? { ca: target.ca, minVersion: "TLSv1.2" as const, rejectUnauthorized: true } : {}),
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new DeliveryError(`HTTP ${String(status)}`));
        });
        res.on("error", () => reject(new DeliveryError("response interrupted")));
      },
    );
    req.on("timeout", () => req.destroy(new DeliveryError(`no response within ${String(target.timeoutMs)} ms`)));
    req.on("error", (err) => reject(err instanceof DeliveryError ? err : new DeliveryError(networkReason(err))));
    req.end(body);
  });
}

/** The error's code (ECONNREFUSED, CERT_…), never a message that could quote data. */
export function networkReason(err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  return code === "" ? "network error" : code;
}
