import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AespError } from "@aesp/client";

/** What `aesp runtime enroll --out DIR` wrote, ready to spread into {@link RuntimeOptions}. */
export interface Enrollment {
  readonly runtimePlaneUrl: string;
  readonly runtimeId: string;
  readonly tenantId: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly caCertificatePem: string;
  readonly spiffeId: string;
  /** When the certificate expires; renew before with `aesp runtime renew --dir DIR`. */
  readonly notAfter: Date;
}

/**
 * Reads an enrollment directory: `runtime.json`, `runtime.key`, `runtime.crt` and `ca.pem`.
 *
 * @example
 * const runtime = createRuntime({ ...(await readEnrollment("./text-tools")), handlers });
 *
 * @throws AespError INVALID_ARGUMENT when a file is missing or `runtime.json` is malformed.
 */
export async function readEnrollment(dir: string): Promise<Enrollment> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), "utf8");
    } catch {
      throw new AespError({
        code: "INVALID_ARGUMENT",
        message: `Cannot read ${join(dir, name)}.`,
        details: { path: join(dir, name) },
        remediation: ["Enroll the runtime first: aesp runtime enroll --token <join token> --runtime-id <id> --out <dir>, and point to that directory."],
      });
    }
  };
  const [manifestText, privateKeyPem, certificatePem, caCertificatePem] = await Promise.all([read("runtime.json"), read("runtime.key"), read("runtime.crt"), read("ca.pem")]);
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(manifestText) as Record<string, unknown>;
  } catch {
    throw malformed(dir, "it is not JSON");
  }
  const field = (name: string): string => {
    const value = manifest[name];
    if (typeof value !== "string" || value === "") throw malformed(dir, `"${name}" is missing`);
    return value;
  };
  return {
    runtimePlaneUrl: field("runtime_plane_url"),
    runtimeId: field("runtime_id"),
    tenantId: field("tenant_id"),
    spiffeId: field("spiffe_id"),
    notAfter: new Date(field("not_after")),
    certificatePem,
    privateKeyPem,
    caCertificatePem,
  };
}

function malformed(dir: string, why: string): AespError {
  return new AespError({
    code: "INVALID_ARGUMENT",
    message: `${join(dir, "runtime.json")} is malformed: ${why}.`,
    remediation: ["Enroll the runtime again with aesp runtime enroll --force."],
  });
}
