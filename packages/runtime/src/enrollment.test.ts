import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AespError } from "@aesp/client";
import { readEnrollment } from "./enrollment.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "aesp-enrollment-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const manifest = {
  runtime_id: "text-tools",
  tenant_id: "acme",
  runtime_plane_url: "https://127.0.0.1:7444",
  spiffe_id: "spiffe://aesp.local/tenant/acme/runtime/text-tools",
  serial_number: "0a",
  not_after: "2030-01-01T00:00:00.000Z",
};

test("a missing directory or file names the path and how to enroll", async () => {
  await assert.rejects(readEnrollment(join(dir, "nope")), (err: unknown) => err instanceof AespError && err.code === "INVALID_ARGUMENT" && /runtime enroll/.test(err.remediation[0] ?? ""));
});

test("reads the four files written by aesp runtime enroll", async () => {
  await writeFile(join(dir, "runtime.json"), JSON.stringify(manifest));
  await writeFile(join(dir, "runtime.key"), "KEY");
  await writeFile(join(dir, "runtime.crt"), "CERT");
  await writeFile(join(dir, "ca.pem"), "CA");
  const enrollment = await readEnrollment(dir);
  assert.deepEqual(
    { ...enrollment, notAfter: enrollment.notAfter.toISOString() },
    {
      runtimePlaneUrl: "https://127.0.0.1:7444",
      runtimeId: "text-tools",
      tenantId: "acme",
      spiffeId: manifest.spiffe_id,
      notAfter: manifest.not_after,
      certificatePem: "CERT",
      privateKeyPem: "KEY",
      caCertificatePem: "CA",
    },
  );
});

test("a manifest without a required field is malformed", async () => {
  await writeFile(join(dir, "runtime.json"), JSON.stringify({ ...manifest, runtime_plane_url: "" }));
  await assert.rejects(readEnrollment(dir), (err: unknown) => err instanceof AespError && /runtime_plane_url/.test(err.message));
  await writeFile(join(dir, "runtime.json"), "not json");
  await assert.rejects(readEnrollment(dir), (err: unknown) => err instanceof AespError && /not JSON/.test(err.message));
});
