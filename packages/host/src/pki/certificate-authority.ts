/**
 * The Host's internal certificate authority: one ECDSA P-256 root that issues the Host's own TLS
 * server certificates and the short-lived client certificates of enrolled runtimes.
 *
 * Rules enforced here:
 * - The root is created once (key sealed under the master key, certificate stored with it) and
 *   loaded afterwards; its certificate must carry the stored key's public key.
 * - A runtime certificate names exactly one identity, the runtime's SPIFFE ID, as its only SAN; it
 *   is good for TLS client authentication only and never outlives the root.
 * - The Host never sees a runtime's private key: it certifies the SPKI the runtime sends, and only
 *   for EC P-256/P-384 or Ed25519 keys.
 * - Serials are 126 random bits, positive, in canonical lower-case hex.
 */
import { createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { EnterpriseError } from "@aesp/core";
import type { Clock, IdSource, KeyMaterialStore } from "@aesp/core";
import { loadOrCreateKeyWith } from "../crypto/key-material.ts";
import { KeyProtectionError, type MasterKey } from "../crypto/master-key.ts";
import { newCertificateSerial, normalizeSerial } from "./serial.ts";
import { buildSpiffeId, isTrustDomain } from "./spiffe.ts";
import { x509 } from "./x509.ts";

type CryptoKey = webcrypto.CryptoKey;

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_P256_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

const SECOND_MS = 1000;
const DAY_MS = 86_400 * SECOND_MS;
const ROOT_VALIDITY_MS = 3652 * DAY_MS;
// Tolerates peers whose clocks lag ours: a certificate is usable the moment it is issued.
const BACKDATE_MS = 5 * 60 * SECOND_MS;

/** Default lifetime of a runtime certificate: 24 hours. */
export const DEFAULT_RUNTIME_CERTIFICATE_SECONDS = 86_400;
/** Shortest and longest runtime certificate lifetimes the CA issues. */
export const RUNTIME_CERTIFICATE_SECONDS_RANGE = { min: 60, max: 30 * 86_400 } as const;
/** Default lifetime of a Host server certificate: 90 days. */
export const DEFAULT_SERVER_CERTIFICATE_DAYS = 90;
const SERVER_CERTIFICATE_MAX_DAYS = 397;
const MAX_PUBLIC_KEY_PEM_LENGTH = 4096;
const DNS_NAME_PATTERN = /^(\*\.)?(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/;

/** Inputs of {@link CertificateAuthority.open}. */
export interface CertificateAuthorityOptions {
  /** Platform key store; the root lives under purpose `ca`. */
  keys: KeyMaterialStore;
  masterKey: MasterKey;
  /** SPIFFE trust domain of this Host (lower-case), e.g. `aesp.example.com`. */
  trustDomain: string;
  clock: Clock;
  /** Unused: the root's key id is `ca-<generation>` (see {@link loadOrCreateKeyWith}). */
  ids?: IdSource;
}

/** Inputs of {@link CertificateAuthority.issueServerCertificate}. */
export interface ServerCertificateRequest {
  /** DNS SANs; the first also becomes the subject CN. */
  dnsNames: readonly string[];
  /** IP SANs (IPv4 or IPv6 text). */
  ipAddresses?: readonly string[];
  /** Lifetime in days, 1–397; default {@link DEFAULT_SERVER_CERTIFICATE_DAYS}. */
  validityDays?: number;
}

/** A server certificate with its freshly generated key. */
export interface IssuedServerCertificate {
  certificatePem: string;
  /** PKCS#8 PEM of the new P-256 key; give it to the TLS server, never store it in clear. */
  privateKeyPem: string;
  serial: string;
  notBefore: number;
  notAfter: number;
}

/** Inputs of {@link CertificateAuthority.issueRuntimeCertificate}. */
export interface RuntimeCertificateRequest {
  tenantId: string;
  runtimeId: string;
  /** The runtime's public key, SPKI PEM (`-----BEGIN PUBLIC KEY-----`): EC P-256/P-384 or Ed25519. */
  publicKeyPem: string;
  /** Lifetime in seconds, 60 s – 30 days; default {@link DEFAULT_RUNTIME_CERTIFICATE_SECONDS}. */
  validitySeconds?: number;
}

/** An issued runtime certificate; fields line up with `CertificateRecord`. */
export interface IssuedRuntimeCertificate {
  certificatePem: string;
  /** Canonical lower-case hex. */
  serial: string;
  spiffeId: string;
  /** Epoch milliseconds. */
  notBefore: number;
  /** Epoch milliseconds. */
  notAfter: number;
}

/** Inputs of {@link CertificateAuthority.issueClientCertificate}. */
export interface ClientCertificateRequest {
  /** SPKI PEM; same key rules as runtime certificates. */
  publicKeyPem: string;
  /** URI SANs, taken as given (not checked against the SPIFFE shape). */
  uris: readonly string[];
  dnsNames?: readonly string[];
  commonName?: string;
  /** Epoch ms; default now minus the skew allowance. */
  notBefore?: number;
  /** Epoch ms; default 24 hours from now. May lie in the past. */
  notAfter?: number;
}

/** An issued client certificate. */
export interface IssuedClientCertificate {
  certificatePem: string;
  serial: string;
  notBefore: number;
  notAfter: number;
}

/**
 * The Host's internal CA.
 *
 * @example
 * const ca = await CertificateAuthority.open({ keys: store.platform.keys, masterKey, trustDomain: "aesp.local", clock });
 * const cert = await ca.issueRuntimeCertificate({ tenantId: "acme", runtimeId: "rt_1", publicKeyPem });
 */
export class CertificateAuthority {
  /** The SPIFFE trust domain runtime identities are issued in. */
  readonly trustDomain: string;
  /** The root certificate (PEM): the trust anchor runtimes and clients install. */
  readonly caCertificatePem: string;
  /** Key id of the root's key record. */
  readonly keyId: string;
  /** When the root expires (epoch ms). Issued certificates never outlive it. */
  readonly notAfter: number;
  readonly #certificate: x509.X509Certificate;
  readonly #signingKey: CryptoKey;
  readonly #clock: Clock;

  private constructor(trustDomain: string, keyId: string, certificate: x509.X509Certificate, signingKey: CryptoKey, clock: Clock) {
    this.trustDomain = trustDomain;
    this.keyId = keyId;
    this.#certificate = certificate;
    this.caCertificatePem = certificate.toString("pem");
    this.notAfter = certificate.notAfter.getTime();
    this.#signingKey = signingKey;
    this.#clock = clock;
  }

  /**
   * Loads the CA, creating its root on first start.
   *
   * @param options - key store, master key, trust domain and clock
   * @returns the ready CA
   * @throws EnterpriseError `INVALID_ARGUMENT` when the trust domain is not a valid SPIFFE trust domain
   * @throws KeyProtectionError when the stored root cannot be opened or its certificate does not match its key
   */
  static async open(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    if (!isTrustDomain(options.trustDomain)) {
      throw new EnterpriseError("INVALID_ARGUMENT", {
        message: "The trust domain may only contain lower-case letters, digits, '.', '_' and '-'.",
        details: { field: "trust_domain" },
      });
    }
    const loaded = await loadOrCreateKeyWith({
      keys: options.keys,
      masterKey: options.masterKey,
      purpose: "ca",
      algorithm: "ECDSA-P256",
      clock: options.clock,
      certify: ({ privateKey, publicKey }) => createRootCertificate(privateKey, publicKey, options.trustDomain, options.clock.now()),
    });
    const { record } = loaded;
    if (record.certificatePem === null) {
      throw new KeyProtectionError(`CA key ${record.keyId} has no certificate`);
    }
    const certificate = new x509.X509Certificate(record.certificatePem);
    const certificateKey = createPublicKey({ key: Buffer.from(certificate.publicKey.rawData), format: "der", type: "spki" });
    if (!certificateKey.equals(loaded.publicKey)) {
      throw new KeyProtectionError(`CA certificate of ${record.keyId} does not carry its key`);
    }
    const signingKey = await toSigningCryptoKey(loaded.privateKey);
    return new CertificateAuthority(options.trustDomain, record.keyId, certificate, signingKey, options.clock);
  }

  /**
   * Issues a TLS server certificate (EKU serverAuth) with a new P-256 key, for the API gateway and
   * the runtime plane.
   *
   * @param request - SANs and lifetime
   * @returns certificate, private key and validity
   * @throws EnterpriseError `INVALID_ARGUMENT` when there is no SAN, a DNS name or IP is malformed,
   *   or the lifetime is out of range
   */
  async issueServerCertificate(request: ServerCertificateRequest): Promise<IssuedServerCertificate> {
    const ipAddresses = request.ipAddresses ?? [];
    if (request.dnsNames.length + ipAddresses.length === 0) throw invalid("dns_names", "At least one DNS name or IP address is required.");
    for (const name of request.dnsNames) {
      if (name.length > 253 || !DNS_NAME_PATTERN.test(name)) throw invalid("dns_names", "A DNS name is malformed.");
    }
    for (const ip of ipAddresses) {
      if (isIP(ip) === 0) throw invalid("ip_addresses", "An IP address is malformed.");
    }
    const validityDays = request.validityDays ?? DEFAULT_SERVER_CERTIFICATE_DAYS;
    if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > SERVER_CERTIFICATE_MAX_DAYS) {
      throw invalid("validity_days", `The validity must be 1 to ${SERVER_CERTIFICATE_MAX_DAYS} days.`);
    }
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const now = this.#clock.now();
    const commonName = request.dnsNames[0] ?? ipAddresses[0] ?? "AESP Host";
    const issued = await this.#issue({
      subject: [{ CN: [commonName] }],
      spki: publicKey.export({ type: "spki", format: "der" }),
      notBefore: now - BACKDATE_MS,
      notAfter: now + validityDays * DAY_MS,
      usage: x509.ExtendedKeyUsage.serverAuth,
      sans: [
        ...request.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ],
    });
    return { ...issued, privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
  }

  /**
   * Issues a runtime's client certificate: EKU clientAuth, the runtime's SPIFFE ID as the only SAN.
   *
   * @param request - tenant, runtime, the runtime's public key and lifetime
   * @returns the certificate with its serial, SPIFFE ID and validity (clamped to the root's expiry)
   * @throws EnterpriseError `INVALID_ARGUMENT` when an id is not a valid SPIFFE segment, the key is
   *   not an SPKI PEM of EC P-256/P-384 or Ed25519, or the lifetime is out of range
   */
  async issueRuntimeCertificate(request: RuntimeCertificateRequest): Promise<IssuedRuntimeCertificate> {
    const spiffeId = buildSpiffeId(this.trustDomain, request.tenantId, request.runtimeId);
    const spki = parseSubjectPublicKey(request.publicKeyPem);
    const validitySeconds = request.validitySeconds ?? DEFAULT_RUNTIME_CERTIFICATE_SECONDS;
    const { min, max } = RUNTIME_CERTIFICATE_SECONDS_RANGE;
    if (!Number.isInteger(validitySeconds) || validitySeconds < min || validitySeconds > max) {
      throw invalid("validity_seconds", `The validity must be ${min} to ${max} seconds.`);
    }
    const now = this.#clock.now();
    const issued = await this.#issue({
      subject: [{ CN: [request.runtimeId] }, { O: [request.tenantId] }],
      spki,
      notBefore: now - BACKDATE_MS,
      notAfter: now + validitySeconds * SECOND_MS,
      usage: x509.ExtendedKeyUsage.clientAuth,
      sans: [{ type: "url", value: spiffeId }],
    });
    return { ...issued, spiffeId };
  }

  /**
   * Issues a client certificate with arbitrary URI SANs and validity window.
   *
   * For tests and tooling that must produce certificates the runtime plane has to refuse
   * (expired, two SPIFFE IDs, foreign shapes). Enrolment uses {@link issueRuntimeCertificate}.
   *
   * @param request - key, SANs and window
   * @returns the certificate and its serial and validity
   * @throws EnterpriseError `INVALID_ARGUMENT` when the key is not an accepted SPKI PEM
   */
  async issueClientCertificate(request: ClientCertificateRequest): Promise<IssuedClientCertificate> {
    const spki = parseSubjectPublicKey(request.publicKeyPem);
    const now = this.#clock.now();
    return this.#issue({
      subject: [{ CN: [request.commonName ?? "AESP client"] }],
      spki,
      notBefore: request.notBefore ?? now - BACKDATE_MS,
      notAfter: request.notAfter ?? now + DEFAULT_RUNTIME_CERTIFICATE_SECONDS * SECOND_MS,
      usage: x509.ExtendedKeyUsage.clientAuth,
      sans: [
        ...request.uris.map((value) => ({ type: "url" as const, value })),
        ...(request.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
      ],
    });
  }

  async #issue(spec: {
    subject: x509.JsonName;
    spki: Uint8Array;
    notBefore: number;
    notAfter: number;
    usage: x509.ExtendedKeyUsage;
    sans: x509.JsonGeneralNames;
  }): Promise<IssuedClientCertificate> {
    const serial = newCertificateSerial();
    const notAfter = Math.min(spec.notAfter, this.notAfter);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([spec.usage], false),
      await x509.SubjectKeyIdentifierExtension.create(asX509Key(spec.spki)),
      await x509.AuthorityKeyIdentifierExtension.create(this.#certificate),
    ];
    if (spec.sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(spec.sans, false));
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: spec.subject,
      issuer: this.#certificate.subjectName,
      publicKey: asX509Key(spec.spki),
      signingKey: asX509Key(this.#signingKey) as never,
      signingAlgorithm: ECDSA_P256_SHA256,
      notBefore: new Date(spec.notBefore),
      notAfter: new Date(notAfter),
      extensions,
    });
    return {
      certificatePem: certificate.toString("pem"),
      serial: normalizeSerial(serial),
      notBefore: certificate.notBefore.getTime(),
      notAfter: certificate.notAfter.getTime(),
    };
  }
}

async function createRootCertificate(privateKey: KeyObject, publicKey: KeyObject, trustDomain: string, now: number): Promise<string> {
  const keys: webcrypto.CryptoKeyPair = {
    privateKey: await toSigningCryptoKey(privateKey),
    publicKey: await webcrypto.subtle.importKey("spki", publicKey.export({ type: "spki", format: "der" }), ECDSA_P256, true, ["verify"]),
  };
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newCertificateSerial(),
    name: [{ CN: [`AESP Host CA ${trustDomain}`] }],
    keys: keys as unknown as CryptoKeyPair,
    signingAlgorithm: ECDSA_P256_SHA256,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + ROOT_VALIDITY_MS),
    extensions: [
      // Path length 0: the root signs leaves only, so no intermediate can be minted from it.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(asX509Key(keys.publicKey)),
    ],
  });
  return root.toString("pem");
}

function toSigningCryptoKey(privateKey: KeyObject): Promise<CryptoKey> {
  return webcrypto.subtle.importKey("pkcs8", privateKey.export({ type: "pkcs8", format: "der" }), ECDSA_P256, false, ["sign"]);
}

const SPKI_PEM_PATTERN = /^\s*-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

/**
 * Parses a runtime's public key: one SPKI PEM block of an EC P-256/P-384 or Ed25519 key.
 *
 * @param publicKeyPem - the PEM text sent by the runtime
 * @returns the SPKI DER
 * @throws EnterpriseError `INVALID_ARGUMENT` (details.field `public_key_pem`) otherwise
 */
export function parseSubjectPublicKey(publicKeyPem: string): Buffer {
  // createPublicKey would also derive a public key from a private key or certificate PEM; only SPKI is accepted.
  if (publicKeyPem.length > MAX_PUBLIC_KEY_PEM_LENGTH || !SPKI_PEM_PATTERN.test(publicKeyPem)) {
    throw invalid("public_key_pem", "The public key must be a single PEM 'PUBLIC KEY' block.");
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicKeyPem, format: "pem" });
  } catch {
    throw invalid("public_key_pem", "The public key cannot be parsed.");
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const accepted =
    key.asymmetricKeyType === "ed25519" ||
    (key.asymmetricKeyType === "ec" && (curve === "prime256v1" || curve === "secp384r1"));
  if (!accepted) throw invalid("public_key_pem", "The public key must be EC P-256, EC P-384 or Ed25519.");
  return key.export({ type: "spki", format: "der" });
}

function invalid(field: string, message: string): EnterpriseError {
  return new EnterpriseError("INVALID_ARGUMENT", { message, details: { field } });
}

/**
 * Node's WebCrypto key types and the DOM's (which a SAML dependency pulls into the program) differ
 * only in newer key usages @peculiar/x509 never reads; this narrows one to the other.
 */
function asX509Key(key: unknown): Parameters<typeof x509.SubjectKeyIdentifierExtension.create>[0] {
  return key as Parameters<typeof x509.SubjectKeyIdentifierExtension.create>[0];
}
