/**
 * `@aesp/runtime`: fulfil Host-defined tool contracts from a TypeScript process over mutual TLS 1.3.
 */
export { createRuntime, Runtime, runtimeSdkVersion } from "./runtime.ts";
export type { DisconnectInfo, ReconnectingInfo, ReconnectOptions, RuntimeEvents, RuntimeOptions, RuntimeState } from "./runtime.ts";
export type { EndReason, HandlerErrorInfo, RuntimeAcceptance, ToolContext, ToolHandler, ToolSecurity } from "./connection.ts";
export { CallAbortedError, ToolError } from "./tool-error.ts";
export type { AbortCause } from "./tool-error.ts";
export { readEnrollment } from "./enrollment.ts";
export type { Enrollment } from "./enrollment.ts";
export { readCertificateIdentity } from "./identity.ts";
export type { RuntimeCertificateIdentity } from "./identity.ts";
export { AespError } from "@aesp/client";
