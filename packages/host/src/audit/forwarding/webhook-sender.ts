/**
 * Sends audit records to an HTTPS endpoint as a signed JSON batch:
 * `{"delivery_id": "...", "events": [AuditRecord, ...]}` with the headers of webhook-signing.ts.
 * A retry of the same batch keeps its delivery id and is signed afresh with a new timestamp.
 */
import type { AuditRecord, Clock } from "@aesp/core";
import type { BatchSender } from "./delivery-queue.ts";
import { postJson } from "./https-post.ts";
import type { PostTarget } from "./https-post.ts";
import { signedHeaders } from "./webhook-signing.ts";

/** {@link BatchSender} for signed webhooks. */
export class WebhookSender implements BatchSender {
  readonly #target: PostTarget;
  readonly #secret: string;
  readonly #clock: Clock;

  constructor(target: PostTarget, secret: string, clock: Clock) {
    this.#target = target;
    this.#secret = secret;
    this.#clock = clock;
  }

  async send(records: readonly AuditRecord[], deliveryId: string): Promise<void> {
    const body = JSON.stringify({ delivery_id: deliveryId, events: records });
    await postJson(this.#target, body, signedHeaders(this.#secret, deliveryId, Math.floor(this.#clock.now() / 1000), body));
  }
}
