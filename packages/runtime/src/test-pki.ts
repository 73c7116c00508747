/**
 * Throwaway PKI for tests: a CA, a server certificate for 127.0.0.1 and runtime client
 * certificates with SPIFFE ids, issued with @peculiar/x509 over WebCrypto (ECDSA P-256).
 * Test-only: never imported by the SDK itself.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// Node's WebCrypto types differ from the DOM's (which an XML dependency pulls into the program)
// only in key usages @peculiar/x509 never reads.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A certificate and its private key, both PEM. */
export interface IssuedPair {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

/** A test CA that issues server and runtime certificates. */
export interface TestCa {
  readonly caCertificatePem: string;
  issueServer(): Promise<IssuedPair>;
  issueRuntime(spiffeId: string): Promise<IssuedPair>;
}

let serial = 1;

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** Creates a self-signed CA valid for an hour. */
export async function createTestCa(name = "AESP Test CA"): Promise<TestCa> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3_600_000);
  const caKeys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    name: `CN=${name}`,
    keys: caKeys,
    signingAlgorithm: algorithm,
    notBefore,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const issue = async (subject: string, usage: x509.ExtendedKeyUsage, names: x509.JsonGeneralNames): Promise<IssuedPair> => {
    const keys = (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as unknown as CryptoKeyPair;
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: (serial++).toString(16).padStart(2, "0"),
      subject,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: algorithm,
      notBefore,
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
      ],
    });
    return { certificatePem: certificate.toString("pem"), privateKeyPem: await exportKey(keys.privateKey) };
  };

  return {
    caCertificatePem: ca.toString("pem"),
    issueServer: () =>
      issue("CN=aesp-host", x509.ExtendedKeyUsage.serverAuth, [
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
      ]),
    issueRuntime: (spiffeId) => issue("CN=runtime", x509.ExtendedKeyUsage.clientAuth, [{ type: "url", value: spiffeId }]),
  };
}
