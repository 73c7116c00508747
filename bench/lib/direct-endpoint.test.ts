/**
 * The direct endpoint against the real runtime SDK over mutual TLS: it must deliver calls and
 * results faithfully and hold its in-flight window, or the direct baseline means nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { createRuntime } from "@aesp/runtime";
import type { Runtime } from "@aesp/runtime";
import { createTestCa } from "../../packages/runtime/src/test-pki.ts";
import { startDirectEndpoint } from "./direct-endpoint.ts";
import type { DirectEndpoint } from "./direct-endpoint.ts";

describe("direct endpoint", () => {
  let endpoint: DirectEndpoint;
  let runtime: Runtime;
  let running = 0;
  let peak = 0;

  before(async () => {
    const clientCa = await createTestCa("bench test runtime CA");
    const cert = await clientCa.issueRuntime("spiffe://aesp.test/tenant/acme/runtime/echo-rt");
    endpoint = await startDirectEndpoint({ clientCaPem: clientCa.caCertificatePem, maxInFlight: 3, timeoutMs: 5_000, heartbeatIntervalMs: 10_000 });
    runtime = createRuntime({
      runtimePlaneUrl: endpoint.url,
      caCertificatePem: endpoint.caCertificatePem,
      runtimeId: "echo-rt",
      tenantId: "acme",
      certificatePem: cert.certificatePem,
      privateKeyPem: cert.privateKeyPem,
      handlers: {
        "echo@1.0.0": async (args: JsonObject) => {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setTimeout(resolve, 10));
          running--;
          if (args["n"] === -1) throw new Error("boom");
          return { n: args["n"] ?? null };
        },
      },
    });
    await runtime.start();
    await endpoint.whenConnected(5_000);
  });

  after(async () => {
    await runtime?.close();
    await endpoint?.close();
  });

  it("delivers each call to the runtime and returns its result", async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => endpoint.call("echo", "1.0.0", { n })));
    assert.deepEqual(results, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
  });

  it("never has more calls outstanding than its window", async () => {
    peak = 0;
    await Promise.all(Array.from({ length: 12 }, (_, n) => endpoint.call("echo", "1.0.0", { n })));
    assert.equal(peak, 3);
  });

  it("rejects when the tool fails", async () => {
    await assert.rejects(endpoint.call("echo", "1.0.0", { n: -1 }), /tool error INTERNAL_ERROR/);
  });

  it("refuses a client without a certificate from the trusted CA", async () => {
    const strangerCa = await createTestCa("stranger CA");
    const stranger = await strangerCa.issueRuntime("spiffe://aesp.test/tenant/acme/runtime/echo-rt");
    const intruder = createRuntime({
      runtimePlaneUrl: endpoint.url,
      caCertificatePem: endpoint.caCertificatePem,
      runtimeId: "echo-rt",
      tenantId: "acme",
      certificatePem: stranger.certificatePem,
      privateKeyPem: stranger.privateKeyPem,
      handlers: { "echo@1.0.0": () => null },
    });
    await assert.rejects(intruder.start());
    await intruder.close();
  });
});
