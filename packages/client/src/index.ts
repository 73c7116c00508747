/**
 * `@aesp/client`: the client SDK of the AESP Host, for agents (sessions, governed tool calls)
 * and administrators (every enterprise service, through `client.services`).
 */
export { createAespClient } from "./client.ts";
export type { AespClient, AespClientOptions, InvocationIds, InvokeOptions, InvokeResult, InvokeStreamEvent, SessionInfo } from "./client.ts";
export { AespError, fromEnterpriseError, toAespError } from "./errors.ts";
export type { AespErrorInit } from "./errors.ts";
export { withRetry } from "./retry.ts";
export type { RetryOptions } from "./retry.ts";
export { apiKeyTokenSource, bearerTokenInterceptor, isTokenExpired, publicMethods, staticTokenSource, tenantOfApiKey } from "./auth.ts";
export type { IssuedToken, TokenSource } from "./auth.ts";
export { createServices, withAespErrors } from "./services.ts";
export type { AespServices } from "./services.ts";
