/**
 * Plays the browser and the CLI of a SAML sign-in against a real gateway: the CLI's PKCE pair,
 * `GET /saml/<tenant>/<provider>/login`, the IdP's form post to the ACS, and the code exchange at
 * `POST /saml/token`. Every step is one raw HTTP/2 request, so tests see statuses and headers.
 */
import { createHash, randomBytes } from "node:crypto";
import { rawGatewayRequest } from "./harness.ts";
import type { RawResponse, TestHost } from "./harness.ts";

/** A PKCE (RFC 7636, S256) verifier and its challenge. */
export interface PkcePair {
  readonly verifier: string;
  readonly challenge: string;
}

/** A fresh verifier (32 random bytes, base64url) and its S256 challenge. */
export function newPkcePair(): PkcePair {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier, "ascii").digest("base64url") };
}

/** `GET /saml/<tenant>/<provider>/login` with these query parameters (none when empty). */
export function startSamlLogin(t: TestHost, tenantId: string, providerId: string, query: Record<string, string> = {}): Promise<RawResponse> {
  const search = new URLSearchParams(query).toString();
  return rawGatewayRequest(t, { method: "GET", path: `/saml/${tenantId}/${providerId}/login${search === "" ? "" : `?${search}`}` });
}

/** The IdP's auto-submitted form: `POST /saml/<tenant>/<provider>/acs` with the response and RelayState (omitted when undefined). */
export function postToAcs(t: TestHost, tenantId: string, providerId: string, samlResponse: string, relayState?: string): Promise<RawResponse> {
  const form = new URLSearchParams({ SAMLResponse: samlResponse, ...(relayState === undefined ? {} : { RelayState: relayState }) });
  return rawGatewayRequest(t, {
    path: `/saml/${tenantId}/${providerId}/acs`,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
}

/** The CLI's code exchange: `POST /saml/token` with a JSON body. */
export function redeemSamlCode(t: TestHost, body: Record<string, unknown>): Promise<RawResponse> {
  return rawGatewayRequest(t, { path: "/saml/token", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** The `location` header of a response, or "" when it has none. */
export function locationOf(response: RawResponse): string {
  const location = response.headers["location"];
  return typeof location === "string" ? location : "";
}

/** The EnterpriseError code and reason of a refused plain-HTTP identity request. */
export function httpRefusalOf(response: RawResponse): { status: number; code: string; reason: string; field: string } {
  const body = (response.json ?? {}) as { code?: unknown; details?: Record<string, unknown> };
  const detail = (name: string): string => (typeof body.details?.[name] === "string" ? body.details[name] : "");
  return { status: response.status, code: typeof body.code === "string" ? body.code : "", reason: detail("reason"), field: detail("field") };
}
