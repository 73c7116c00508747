/**
 * SPIFFE identities of runtimes: `spiffe://<trust-domain>/tenant/<tenant>/runtime/<runtime>`.
 *
 * Rules enforced here:
 * - Exactly that shape, nothing else: no extra or empty segments, no query or fragment, no `.`/`..`
 *   segments, segments of `[A-Za-z0-9._-]` (trust domain lower-case, as SPIFFE requires), each at
 *   most 128 characters. Anything else parses as `null`, never as a "best effort" identity.
 * - A certificate names one runtime: its SAN must hold exactly one URI, and that URI must be a
 *   runtime SPIFFE ID (the X509-SVID rule). Two URIs are ambiguous and refused.
 */
import { EnterpriseError } from "@aesp/core";

/** Longest accepted trust domain, tenant id or runtime id. */
export const SPIFFE_SEGMENT_MAX_LENGTH = 128;

const SEGMENT_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const TRUST_DOMAIN_PATTERN = /^[a-z0-9._-]{1,128}$/;
const RUNTIME_SPIFFE_ID_PATTERN =
  /^spiffe:\/\/([a-z0-9._-]{1,128})\/tenant\/([A-Za-z0-9._-]{1,128})\/runtime\/([A-Za-z0-9._-]{1,128})$/;

/** A parsed runtime SPIFFE ID. */
export interface SpiffeRuntimeId {
  /** The full URI, `spiffe://…`. */
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly tenantId: string;
  readonly runtimeId: string;
}

/** One `TYPE:value` entry of Node's `subjectaltname` string. */
export interface SubjectAltNameEntry {
  /** `DNS`, `URI`, `IP Address`, `email`, … as Node prints it. */
  readonly type: string;
  readonly value: string;
}

/**
 * Tells whether `value` is an acceptable trust domain: lower-case letters, digits, `.`, `_`, `-`,
 * at most 128 characters.
 *
 * @param value - the candidate trust domain
 * @returns true when acceptable
 */
export function isTrustDomain(value: string): boolean {
  return TRUST_DOMAIN_PATTERN.test(value) && value !== "." && value !== "..";
}

/**
 * Builds the SPIFFE ID of a runtime.
 *
 * @param trustDomain - the Host's trust domain (lower-case)
 * @param tenantId - the runtime's tenant
 * @param runtimeId - the runtime
 * @returns `spiffe://<trustDomain>/tenant/<tenantId>/runtime/<runtimeId>`
 * @throws EnterpriseError `INVALID_ARGUMENT` (details.field names the bad part) when a part is empty,
 *   too long, `.`/`..`, or has characters outside the allowed set
 */
export function buildSpiffeId(trustDomain: string, tenantId: string, runtimeId: string): string {
  if (!isTrustDomain(trustDomain)) throw invalidPart("trust_domain", "lower-case letters");
  if (!isSegment(tenantId)) throw invalidPart("tenant_id", "letters");
  if (!isSegment(runtimeId)) throw invalidPart("runtime_id", "letters");
  return `spiffe://${trustDomain}/tenant/${tenantId}/runtime/${runtimeId}`;
}

/**
 * Parses a runtime SPIFFE ID strictly.
 *
 * @param uri - the candidate URI
 * @returns its parts, or `null` for anything that is not exactly a runtime SPIFFE ID
 */
export function parseSpiffeId(uri: string): SpiffeRuntimeId | null {
  const match = RUNTIME_SPIFFE_ID_PATTERN.exec(uri);
  if (match === null) return null;
  const [, trustDomain, tenantId, runtimeId] = match;
  if (trustDomain === undefined || tenantId === undefined || runtimeId === undefined) return null;
  if (!isTrustDomain(trustDomain) || !isSegment(tenantId) || !isSegment(runtimeId)) return null;
  return { spiffeId: uri, trustDomain, tenantId, runtimeId };
}

/**
 * Splits Node's `getPeerCertificate().subjectaltname` into entries.
 *
 * Node separates entries with `", "` and JSON-quotes a value that contains separators or quotes
 * (since the CVE-2021-44532 fix), so quoted values are decoded rather than split.
 *
 * @param subjectAltName - e.g. `URI:spiffe://d/tenant/t/runtime/r, DNS:localhost`
 * @returns the entries in order, or `null` when the string is malformed
 */
export function parseSubjectAltName(subjectAltName: string): SubjectAltNameEntry[] | null {
  const entries: SubjectAltNameEntry[] = [];
  let at = 0;
  while (at < subjectAltName.length) {
    const colon = subjectAltName.indexOf(":", at);
    if (colon < 0) return null;
    const type = subjectAltName.slice(at, colon);
    at = colon + 1;
    let value: string;
    if (subjectAltName[at] === '"') {
      const end = closingQuote(subjectAltName, at);
      if (end < 0) return null;
      try {
        value = JSON.parse(subjectAltName.slice(at, end + 1)) as string;
      } catch {
        return null;
      }
      at = end + 1;
    } else {
      const separator = subjectAltName.indexOf(", ", at);
      const end = separator < 0 ? subjectAltName.length : separator;
      value = subjectAltName.slice(at, end);
      at = end;
    }
    entries.push({ type, value });
    if (at < subjectAltName.length) {
      if (!subjectAltName.startsWith(", ", at)) return null;
      at += 2;
    }
  }
  return entries;
}

/**
 * Reads the runtime identity from a peer certificate's SAN string.
 *
 * @param subjectAltName - `getPeerCertificate().subjectaltname` (may be undefined: no SAN extension)
 * @returns the identity when the SAN holds exactly one URI and it is a runtime SPIFFE ID, else `null`
 */
export function spiffeIdFromSubjectAltName(subjectAltName: string | undefined): SpiffeRuntimeId | null {
  if (subjectAltName === undefined || subjectAltName === "") return null;
  const entries = parseSubjectAltName(subjectAltName);
  if (entries === null) return null;
  const uris = entries.filter((entry) => entry.type === "URI");
  const [only] = uris;
  if (uris.length !== 1 || only === undefined) return null;
  return parseSpiffeId(only.value);
}

function isSegment(value: string): boolean {
  return SEGMENT_PATTERN.test(value) && value !== "." && value !== "..";
}


function invalidPart(field: string, letters: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", {
    message: `The ${field} may only contain ${letters}, digits, '.', '_' and '-' (at most ${SPIFFE_SEGMENT_MAX_LENGTH} characters).`,
    details: { field },
  });
}

function closingQuote(text: string, openingQuote: number): number {
  for (let at = openingQuote + 1; at < text.length; at++) {
    if (text[at] === "\\") at++;
    else if (text[at] === '"') return at;
  }
  return -1;
}
