// The client SDK against a real in-process Connect server over HTTP/2 (h2c on 127.0.0.1): token
// exchange and refresh, error mapping, retry advice, and the invoke / invokeStream shapes.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { create, fromJson } from "@bufbuild/protobuf";
import type { JsonObject } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ResultStatus } from "@aesp/proto/adm";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { SessionService, ToolService } from "@aesp/proto/client";
import type { InvokeToolRequest } from "@aesp/proto/client";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import { HostService } from "@aesp/proto/host";
import { AespError, createAespClient, withRetry } from "./index.ts";
import type { AespClient, InvokeStreamEvent } from "./index.ts";

const apiKey = "aesp.acme.key1.s3cret";

function enterpriseError(code: string, status: Code, fields: { retryAfterMs?: number; correlationId?: string; details?: Record<string, string>; remediation?: string[] } = {}): ConnectError {
  return new ConnectError(`${code} from test server`, status, undefined, [
    {
      desc: EnterpriseErrorSchema,
      value: create(EnterpriseErrorSchema, {
        code,
        message: `${code} from test server`,
        retryAfterMs: BigInt(fields.retryAfterMs ?? 0),
        correlationId: fields.correlationId ?? "corr-test",
        details: fields.details ?? {},
        remediationSteps: fields.remediation ?? [],
      }),
    },
  ]);
}

/** Test-controlled behaviour of the fake Host. */
const host = {
  exchanges: [] as Array<{ tenantId: string; apiKey: string }>,
  tokenLifetimeMs: 60_000,
  issued: 0,
  expiredTokens: new Set<string>(),
  /** Tokens that will be reported expired on their next use (then remembered as expired). */
  expireNextUse: false,
  sessionCalls: [] as string[],
  /** Every bearer token presented, including refused ones. */
  presentedTokens: [] as string[],
  invokeRequests: [] as InvokeToolRequest[],
  failures: [] as ConnectError[],
  exchangeDelayMs: 0,
};

function requireToken(ctx: HandlerContext): string {
  const header = ctx.requestHeader.get("authorization") ?? "";
  const token = header.replace(/^Bearer /, "");
  host.presentedTokens.push(token);
  if (!header.startsWith("Bearer ") || !token.startsWith("tok-")) throw enterpriseError("AUTHENTICATION_FAILED", Code.Unauthenticated);
  if (host.expireNextUse) {
    host.expireNextUse = false;
    host.expiredTokens.add(token);
  }
  if (host.expiredTokens.has(token)) throw enterpriseError("TOKEN_EXPIRED", Code.Unauthenticated);
  return token;
}

function routes(router: ConnectRouter): void {
  router.service(HostService, {
    getHostInfo: () => ({ version: "0.1.0", apiVersion: "aesp.v1" }),
    redeemBootstrapToken: () => {
      throw enterpriseError("UNIMPLEMENTED", Code.Unimplemented);
    },
  });
  router.service(EnterpriseAuthenticationService, {
    authenticateServiceAccount: async (req) => {
      if (req.credential.case !== "apiKey") throw enterpriseError("INVALID_ARGUMENT", Code.InvalidArgument);
      host.exchanges.push({ tenantId: req.tenantId, apiKey: req.credential.value });
      if (host.exchangeDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, host.exchangeDelayMs));
      if (req.credential.value !== apiKey) throw enterpriseError("AUTHENTICATION_FAILED", Code.Unauthenticated, { remediation: ["Check the API key."] });
      host.issued++;
      return { accessToken: `tok-${host.issued}`, expiresAt: BigInt(Date.now() + host.tokenLifetimeMs), tokenType: "Bearer" };
    },
  });
  router.service(SessionService, {
    createSession: (req, ctx) => {
      const token = requireToken(ctx);
      host.sessionCalls.push(token);
      const failure = host.failures.shift();
      if (failure !== undefined) throw failure;
      return { sessionId: `ses-${host.sessionCalls.length}`, tenantId: "acme", principalId: "sa-1", expiresAtUnixMs: BigInt(Date.UTC(2030, 0, 1)), ...(req.ttlSeconds > 0 ? {} : {}) };
    },
    destroySession: (req, ctx) => {
      requireToken(ctx);
      return { destroyed: req.sessionId !== "", abortedInvocations: req.force ? 2 : 0 };
    },
  });
  router.service(ToolService, {
    invokeTool: (req, ctx) => {
      requireToken(ctx);
      host.invokeRequests.push(req);
      const name = req.call?.name ?? "";
      if (name === "fails") {
        return { invocationId: "inv-2", correlationId: "corr-2", result: { callId: req.call?.callId ?? "", name, status: ResultStatus.ERROR, error: { type: "NOT_FOUND", message: "no such thing" } } };
      }
      return {
        invocationId: "inv-1",
        correlationId: req.correlationId || "corr-1",
        result: { callId: req.call?.callId ?? "", name, status: ResultStatus.SUCCESS, content: fromJson(ValueSchema, { echoed: req.call?.args ?? null, list: [1, "two", null] }) },
      };
    },
    async *invokeToolStream(req, ctx) {
      requireToken(ctx);
      const n = Number(req.call?.args?.["n"] ?? 0);
      for (let i = 0; i < n; i++) {
        yield { invocationId: "inv-s", correlationId: "corr-s", kind: { case: "chunk", value: { invocationId: "inv-s", sequence: BigInt(i), payload: fromJson(ValueSchema, { i }) } } };
      }
      if (req.call?.args?.["truncate"] === true) return;
      yield { invocationId: "inv-s", correlationId: "corr-s", kind: { case: "result", value: { callId: req.call?.callId ?? "", name: req.call?.name ?? "", status: ResultStatus.SUCCESS } } };
    },
    listTools: (_req, ctx) => {
      requireToken(ctx);
      return { tools: [{ name: "text_stats", contractVersion: "1.0.0" }] };
    },
  });
}

describe("@aesp/client against a Connect server", () => {
  let server: http2.Http2Server;
  let baseUrl: string;
  const clients: AespClient[] = [];
  const newClient = (options: Partial<Parameters<typeof createAespClient>[0]> = {}): AespClient => {
    const client = createAespClient({ baseUrl, apiKey, ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    server = http2.createServer(connectNodeAdapter({ routes }));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const client of clients) client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    host.exchanges = [];
    host.tokenLifetimeMs = 60_000;
    host.expiredTokens.clear();
    host.expireNextUse = false;
    host.sessionCalls = [];
    host.presentedTokens = [];
    host.invokeRequests = [];
    host.failures = [];
    host.exchangeDelayMs = 0;
  });

  test("exchanges the API key once for concurrent calls and sends the bearer token", async () => {
    host.exchangeDelayMs = 30;
    const client = newClient();
    const sessions = await Promise.all(Array.from({ length: 5 }, () => client.createSession()));
    assert.equal(host.exchanges.length, 1, "single-flight exchange");
    assert.deepEqual(host.exchanges[0], { tenantId: "acme", apiKey });
    assert.equal(new Set(host.sessionCalls).size, 1);
    assert.match(host.sessionCalls[0] ?? "", /^tok-\d+$/);
    assert.equal(sessions[0]?.tenantId, "acme");
    assert.equal(sessions[0]?.expiresAt.getTime(), Date.UTC(2030, 0, 1));
  });

  test("public RPCs never trigger an exchange", async () => {
    const client = newClient();
    const info = await client.hostInfo();
    assert.equal(info.apiVersion, "aesp.v1");
    assert.equal(host.exchanges.length, 0);
  });

  test("re-exchanges shortly before the token expires", async () => {
    host.tokenLifetimeMs = 400; // the refresh point is at most half the lifetime: 200 ms
    const client = newClient({ tokenRefreshSkewMs: 30_000 });
    await client.createSession();
    await client.createSession();
    assert.equal(host.exchanges.length, 1, "still fresh");
    await new Promise((resolve) => setTimeout(resolve, 250));
    await client.createSession();
    assert.equal(host.exchanges.length, 2, "renewed ahead of expiry");
    assert.notEqual(host.sessionCalls[1], host.sessionCalls[2]);
  });

  test("retries a unary call once with a fresh token on TOKEN_EXPIRED", async () => {
    const client = newClient();
    await client.createSession();
    host.expireNextUse = true;
    const session = await client.createSession();
    assert.equal(session.sessionId, "ses-2");
    assert.equal(host.exchanges.length, 2);
    assert.equal(host.presentedTokens.length, 3, "first call, refused call, replay");
    assert.equal(host.presentedTokens[1], host.presentedTokens[0], "refused with the old token");
    assert.notEqual(host.presentedTokens[2], host.presentedTokens[1], "replayed with a new token");
  });

  test("gives up after one replay when the fresh token is refused too", async () => {
    const client = newClient();
    await client.createSession();
    host.expireNextUse = true;
    // Every token the server hands out from now on is refused as expired.
    const tokenPattern = /^tok-/;
    const originalHas = host.expiredTokens.has.bind(host.expiredTokens);
    host.expiredTokens.has = (token: string) => tokenPattern.test(token) || originalHas(token);
    try {
      await assert.rejects(client.createSession(), (err: unknown) => err instanceof AespError && err.code === "TOKEN_EXPIRED");
      assert.equal(host.exchanges.length, 2, "one re-exchange only");
    } finally {
      host.expiredTokens.has = originalHas;
    }
  });

  test("a static access token is sent as is and never refreshed", async () => {
    const client = newClient({ apiKey: "", accessToken: "tok-static" });
    await client.createSession();
    assert.deepEqual(host.sessionCalls, ["tok-static"]);
    assert.equal(host.exchanges.length, 0);
  });

  test("maps EnterpriseError details onto AespError", async () => {
    host.failures.push(
      enterpriseError("AUTHORIZATION_DENIED", Code.PermissionDenied, {
        correlationId: "corr-42",
        details: { missing_role: "agent" },
        remediation: ["Ask a tenant administrator for the role."],
      }),
    );
    const client = newClient();
    const err = await client.createSession().then(
      () => assert.fail("expected a failure"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AespError);
    assert.equal(err.code, "AUTHORIZATION_DENIED");
    assert.equal(err.status, Code.PermissionDenied);
    assert.equal(err.correlationId, "corr-42");
    assert.deepEqual(err.details, { missing_role: "agent" });
    assert.deepEqual(err.remediation, ["Ask a tenant administrator for the role."]);
    assert.equal(err.retryAfterMs, 0);
    assert.equal(err.message, "AUTHORIZATION_DENIED from test server");
  });

  test("a rejected API key surfaces as AUTHENTICATION_FAILED from the exchange", async () => {
    const client = newClient({ apiKey: "aesp.acme.key1.wrong" });
    await assert.rejects(client.createSession(), (err: unknown) => err instanceof AespError && err.code === "AUTHENTICATION_FAILED" && err.remediation[0] === "Check the API key.");
  });

  test("the raw service clients throw AespError too", async () => {
    host.failures.push(enterpriseError("TENANT_SUSPENDED", Code.PermissionDenied));
    const client = newClient();
    await assert.rejects(client.services.sessions.createSession({}), (err: unknown) => err instanceof AespError && err.code === "TENANT_SUSPENDED");
  });

  test("withRetry waits for retryAfterMs and retries only when it is positive", async () => {
    const client = newClient();
    host.failures.push(enterpriseError("RATE_LIMIT_EXCEEDED", Code.ResourceExhausted, { retryAfterMs: 80 }));
    const started = Date.now();
    let attempts = 0;
    const session = await withRetry(() => {
      attempts++;
      return client.createSession();
    });
    assert.equal(attempts, 2);
    assert.ok(Date.now() - started >= 75, "waited for the advised delay");
    assert.match(session.sessionId, /^ses-/);

    host.failures.push(enterpriseError("AUTHORIZATION_DENIED", Code.PermissionDenied));
    attempts = 0;
    await assert.rejects(
      withRetry(() => {
        attempts++;
        return client.createSession();
      }),
      (err: unknown) => err instanceof AespError && err.code === "AUTHORIZATION_DENIED",
    );
    assert.equal(attempts, 1, "retryAfterMs 0 means no retry");

    host.failures.push(...Array.from({ length: 3 }, () => enterpriseError("UNAVAILABLE", Code.Unavailable, { retryAfterMs: 5 })));
    attempts = 0;
    await assert.rejects(
      withRetry(
        () => {
          attempts++;
          return client.createSession();
        },
        { attempts: 3 },
      ),
      (err: unknown) => err instanceof AespError && err.code === "UNAVAILABLE",
    );
    assert.equal(attempts, 3, "stops after the configured attempts");
  });

  test("invoke sends the call and converts the result to plain JSON", async () => {
    const client = newClient();
    const args: JsonObject = { text: "hello world", nested: { a: [1, 2] } };
    const result = await client.invoke("ses-9", "echo", args, { contractVersion: "1.2.0", timeoutMs: 1500, callId: "call-7", correlationId: "corr-mine" });
    assert.deepEqual(result, { invocationId: "inv-1", correlationId: "corr-mine", callId: "call-7", status: "SUCCESS", content: { echoed: args, list: [1, "two", null] } });
    const request = host.invokeRequests[0];
    assert.equal(request?.sessionId, "ses-9");
    assert.equal(request?.contractVersion, "1.2.0");
    assert.equal(request?.timeoutMs, 1500);
    assert.equal(request?.call?.callId, "call-7");
    assert.deepEqual(request?.call?.args, args);
  });

  test("invoke generates a call id and reports tool errors as status ERROR", async () => {
    const client = newClient();
    const result = await client.invoke("ses-9", "fails", {});
    assert.equal(result.status, "ERROR");
    assert.ok(result.status === "ERROR" && result.error.type === "NOT_FOUND" && result.error.message === "no such thing");
    assert.match(result.callId, /^[0-9a-f-]{36}$/);
    assert.equal(host.invokeRequests[0]?.call?.callId, result.callId);
  });

  test("invokeStream yields the chunks in order, then the result", async () => {
    const client = newClient();
    const events: InvokeStreamEvent[] = [];
    for await (const event of client.invokeStream("ses-9", "count_to", { n: 3 })) events.push(event);
    assert.deepEqual(
      events.map((event) => (event.kind === "chunk" ? event.payload : event.status)),
      [{ i: 0 }, { i: 1 }, { i: 2 }, "SUCCESS"],
    );
    assert.deepEqual(
      events.flatMap((event) => (event.kind === "chunk" ? [event.sequence] : [])),
      [0, 1, 2],
    );
  });

  test("invokeStream fails when the stream ends without a result", async () => {
    const client = newClient();
    const consume = async () => {
      for await (const _event of client.invokeStream("ses-9", "count_to", { n: 1, truncate: true })) {
        /* drain */
      }
    };
    await assert.rejects(consume(), (err: unknown) => err instanceof AespError && err.code === "INTERNAL_ERROR");
  });

  test("destroySession and listTools", async () => {
    const client = newClient();
    assert.deepEqual(await client.destroySession("ses-1", { force: true }), { destroyed: true, abortedInvocations: 2 });
    const tools = await client.listTools("ses-1");
    assert.equal(tools[0]?.name, "text_stats");
  });

  test("the JSON format works end to end", async () => {
    const client = newClient({ format: "json" });
    const result = await client.invoke("ses-9", "echo", { x: 1 });
    assert.equal(result.status, "SUCCESS");
  });

  test("an unreachable Host is UNAVAILABLE with retry advice", async () => {
    const probe = http2.createServer();
    probe.listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const client = newClient({ baseUrl: `http://127.0.0.1:${port}` });
    await assert.rejects(client.hostInfo(), (err: unknown) => err instanceof AespError && err.code === "UNAVAILABLE" && err.retryAfterMs > 0 && err.remediation.length > 0);
  });

  test("rejects a malformed API key and a bad URL up front", () => {
    assert.throws(() => createAespClient({ baseUrl, apiKey: "not-a-key" }), (err: unknown) => err instanceof AespError && err.code === "INVALID_ARGUMENT");
    assert.throws(() => createAespClient({ baseUrl: "ftp://x" }), (err: unknown) => err instanceof AespError && err.code === "INVALID_ARGUMENT");
  });
});
