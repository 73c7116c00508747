/**
 * The Host's master key and the sealing of private keys under it.
 *
 * Rules enforced here:
 * - Private keys never reach storage in clear: they are sealed with AES-256-GCM under a 32-byte
 *   master key that lives outside the database (env `AESP_MASTER_KEY` or `<dataDir>/master.key`).
 * - A master key file readable by group or others is refused: the Host will not start on it.
 * - The sealed blob is bound to its record's key id (GCM additional data), so a sealed key copied
 *   into another record does not open.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { link, mkdir, open, unlink } from "node:fs/promises";
import { join } from "node:path";

/** Name of the environment variable that carries the master key (base64url, 32 bytes). */
export const MASTER_KEY_ENV = "AESP_MASTER_KEY";

/** File name of the master key inside the data directory. */
export const MASTER_KEY_FILE = "master.key";

const MASTER_KEY_BYTES = 32;
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const SEALED_FORMAT_VERSION = "v1";

/**
 * Raised when the master key cannot be loaded or a sealed key cannot be opened.
 *
 * This is an operator-facing startup failure, not a caller-facing refusal: its message may name
 * the file to fix, so it must never be serialised to API callers (the gateway maps any non
 * {@link EnterpriseError} to INTERNAL_ERROR).
 */
export class KeyProtectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeyProtectionError";
  }
}

/** The loaded master key. The raw bytes stay inside a `KeyObject`, which does not print them. */
export interface MasterKey {
  readonly key: KeyObject;
  /** Where the key came from, for the startup log line. */
  readonly source: "env" | "file";
}

/** Inputs of {@link loadOrCreateMasterKey}. */
export interface MasterKeyOptions {
  /** The Host's data directory; created (mode 0700) if missing when the key file must be created. */
  dataDir: string;
  /** The process environment (or a test double). */
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Loads the master key from `AESP_MASTER_KEY`, else from `<dataDir>/master.key`, creating that file
 * (mode 0600, atomically) on first start.
 *
 * Two Hosts starting at once over the same data directory end up with the same key: the file is
 * written under a temporary name and hard-linked into place, which fails for the second writer,
 * who then reads the winner's file.
 *
 * @param options - data directory and environment
 * @returns the 32-byte master key
 * @throws KeyProtectionError when the env value is not 32 base64url bytes, the file is malformed,
 *   is not a regular file, or is readable by group or others
 */
export async function loadOrCreateMasterKey(options: MasterKeyOptions): Promise<MasterKey> {
  const fromEnv = options.env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    return { key: createSecretKey(decodeMasterKey(fromEnv, `environment variable ${MASTER_KEY_ENV}`)), source: "env" };
  }
  const path = join(options.dataDir, MASTER_KEY_FILE);
  const existing = await readMasterKeyFile(path);
  if (existing !== null) return { key: createSecretKey(existing), source: "file" };
  await createMasterKeyFile(options.dataDir, path);
  const created = await readMasterKeyFile(path);
  if (created === null) throw new KeyProtectionError(`master key file ${path} vanished while it was being created`);
  return { key: createSecretKey(created), source: "file" };
}

/**
 * Generates a fresh master key, base64url-encoded, for operators who provision `AESP_MASTER_KEY`.
 *
 * @returns 32 random bytes as base64url text
 */
export function generateMasterKeyText(): string {
  return randomBytes(MASTER_KEY_BYTES).toString("base64url");
}

/**
 * Seals a PKCS#8 DER private key under the master key (AES-256-GCM, random 96-bit IV).
 *
 * @param masterKey - the Host's master key
 * @param pkcs8Der - the private key to protect
 * @param aad - the owning record's key id; the same value must be given to {@link openPrivateKey}
 * @returns `v1.<iv>.<ciphertext+tag>`, both parts base64url
 */
export function sealPrivateKey(masterKey: MasterKey, pkcs8Der: Uint8Array, aad: string): string {
  const iv = randomBytes(GCM_IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", masterKey.key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const sealed = Buffer.concat([cipher.update(pkcs8Der), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_FORMAT_VERSION}.${iv.toString("base64url")}.${sealed.toString("base64url")}`;
}

/**
 * Opens a key sealed by {@link sealPrivateKey}.
 *
 * @param masterKey - the Host's master key
 * @param sealed - `v1.<iv>.<ciphertext+tag>`
 * @param aad - the key id the blob was sealed for
 * @returns the PKCS#8 DER private key
 * @throws KeyProtectionError when the format is unknown, or the master key, the AAD or the blob
 *   does not match (GCM authentication fails)
 */
export function openPrivateKey(masterKey: MasterKey, sealed: string, aad: string): Buffer {
  const parts = sealed.split(".");
  const [version, ivText, bodyText] = parts;
  if (parts.length !== 3 || version !== SEALED_FORMAT_VERSION || ivText === undefined || bodyText === undefined) {
    throw new KeyProtectionError(`sealed key for ${aad} has an unknown format`);
  }
  const iv = Buffer.from(ivText, "base64url");
  const body = Buffer.from(bodyText, "base64url");
  if (iv.length !== GCM_IV_BYTES || body.length <= GCM_TAG_BYTES) {
    throw new KeyProtectionError(`sealed key for ${aad} is truncated`);
  }
  const decipher = createDecipheriv("aes-256-gcm", masterKey.key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(body.subarray(body.length - GCM_TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - GCM_TAG_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new KeyProtectionError(
      `sealed key for ${aad} cannot be opened: wrong master key, or the record was altered or copied from another key`,
      { cause },
    );
  }
}

function decodeMasterKey(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  // Buffer.from(…, "base64url") silently skips invalid characters; check the alphabet first.
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(trimmed)) {
    throw new KeyProtectionError(`${origin} is not base64url text`);
  }
  const bytes = Buffer.from(trimmed, "base64url");
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw new KeyProtectionError(
      `${origin} must hold exactly ${MASTER_KEY_BYTES} bytes (base64url), found ${bytes.length}; generate one with: openssl rand 32 | basenc --base64url`,
    );
  }
  return bytes;
}

async function readMasterKeyFile(path: string): Promise<Buffer | null> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang startup.
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    if (isErrnoCode(err, "ENOENT")) return null;
    throw new KeyProtectionError(`cannot read master key file ${path}`, { cause: err });
  }
  try {
    // Check the mode of the file we hold open, not of whatever the path names a moment later.
    const info = await handle.stat();
    if (!info.isFile()) throw new KeyProtectionError(`master key path ${path} is not a regular file`);
    // POSIX modes mean nothing on Windows; there the directory ACL is the operator's job.
    if (process.platform !== "win32" && (info.mode & 0o077) !== 0) {
      throw new KeyProtectionError(
        `master key file ${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, "0")}); ` +
          `refusing to start. Run: chmod 600 ${path}`,
      );
    }
    return decodeMasterKey(await handle.readFile("utf8"), `master key file ${path}`);
  } finally {
    await handle.close();
  }
}

async function createMasterKeyFile(dataDir: string, path: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(8).toString("hex")}.tmp`;
  const handle = await open(temporary, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  try {
    await handle.writeFile(`${generateMasterKeyText()}\n`, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // link() refuses to replace an existing file, so a concurrent Host cannot overwrite the winner.
    await link(temporary, path);
  } catch (err) {
    if (!isErrnoCode(err, "EEXIST")) throw new KeyProtectionError(`cannot create master key file ${path}`, { cause: err });
  } finally {
    await unlink(temporary);
  }
  await syncDirectory(dataDir);
}

async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isErrnoCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}
