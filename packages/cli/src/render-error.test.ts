import assert from "node:assert/strict";
import { test } from "node:test";
import { AespError } from "@aesp/client";
import { renderError, renderErrorJson } from "./render-error.ts";

const refusal = new AespError({
  code: "RATE_LIMIT_EXCEEDED",
  message: "Too many requests.",
  correlationId: "corr-9",
  retryAfterMs: 1500,
  details: { limit: "3000/10s" },
  remediation: ["Slow down.", "Ask for a higher limit."],
});

test("renders code, message, details, correlation id, retry advice and next steps", () => {
  assert.equal(
    renderError(refusal, { debug: false }),
    ["error RATE_LIMIT_EXCEEDED: Too many requests.", "  limit: 3000/10s", "correlation id: corr-9", "retry after: 1.5 s", "what to do next:", "  - Slow down.", "  - Ask for a higher limit.", ""].join("\n"),
  );
});

test("the stack appears only in debug mode, with causes", () => {
  const wrapped = new AespError({ code: "UNAVAILABLE", message: "down", cause: new Error("ECONNREFUSED inner") });
  assert.doesNotMatch(renderError(wrapped, { debug: false }), /inner|\bat\b/);
  const debug = renderError(wrapped, { debug: true });
  assert.match(debug, /AespError: down\n\s+at /);
  assert.match(debug, /caused by:\nError: ECONNREFUSED inner/);
});

test("the Host's in-process errors keep their code and remediation", () => {
  class EnterpriseError extends Error {
    readonly code = "INVALID_ARGUMENT";
    readonly details = { key: "gateway.port" };
    readonly remediation = ["Check the configuration."];
    readonly correlationId = "";
    readonly retryAfterMs = 0;
  }
  const text = renderError(new EnterpriseError("Bad value for gateway.port."), { debug: false });
  assert.match(text, /^error INVALID_ARGUMENT: Bad value for gateway\.port\.\n {2}key: gateway\.port\n/);
  assert.match(text, /- Check the configuration\./);
});

test("a port in use gets advice; anything else is INTERNAL_ERROR with its message", () => {
  const inUse = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:7443"), { code: "EADDRINUSE" });
  assert.match(renderError(inUse, { debug: false }), /^error UNAVAILABLE: listen EADDRINUSE.*\n[\s\S]*--gateway-port/);
  assert.match(renderError(new Error("boom"), { debug: false }), /^error INTERNAL_ERROR: boom\n$/);
});

test("JSON rendering carries the same fields in snake_case", () => {
  assert.deepEqual(JSON.parse(renderErrorJson(refusal)), {
    error: {
      code: "RATE_LIMIT_EXCEEDED",
      message: "Too many requests.",
      details: { limit: "3000/10s" },
      correlation_id: "corr-9",
      retry_after_ms: 1500,
      remediation_steps: ["Slow down.", "Ask for a higher limit."],
    },
  });
});
