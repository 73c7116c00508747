import { EnterpriseError } from "../errors.ts";

/**
 * API keys look like `aesp.<tenant>.<keyId>.<secret>`: the tenant and key id let
 * the Host find the stored hash without scanning, the secret is checked with a
 * slow constant-time hash. Only the hash is ever stored.
 */
export interface ParsedApiKey {
  readonly tenantId: string;
  readonly keyId: string;
  readonly secret: string;
}

const apiKeyPattern = /^aesp\.([a-z0-9][a-z0-9-]{0,62})\.(key_[A-Za-z0-9_-]{8,64})\.([A-Za-z0-9_-]{32,128})$/;

/** Formats a new API key from its parts. */
export function formatApiKey(tenantId: string, keyId: string, secret: string): string {
  return `aesp.${tenantId}.${keyId}.${secret}`;
}

/**
 * Parses an API key.
 * @throws EnterpriseError AUTHENTICATION_FAILED when the key is malformed (never echoing it).
 */
export function parseApiKey(apiKey: string): ParsedApiKey {
  const match = apiKeyPattern.exec(apiKey);
  if (match === null) throw new EnterpriseError("AUTHENTICATION_FAILED", { details: { reason: "malformed_api_key" } });
  return { tenantId: match[1] as string, keyId: match[2] as string, secret: match[3] as string };
}
