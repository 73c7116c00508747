/**
 * The CLI's profile file: `$AESP_HOME/profiles.json` (default `~/.aesp/profiles.json`), mode 0600
 * because it holds API keys. Each profile names a Host, the CA to trust for it, a tenant and the
 * API key; `current` is the profile used when `--profile` is not given.
 */
import { chmod, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { AespError } from "@aesp/client";

/** One named connection to a Host. */
export interface Profile {
  /** Gateway URL. */
  host?: string;
  /** Absolute path of the CA certificate (PEM) to trust for the gateway. */
  ca?: string;
  tenant?: string;
  /** Secret: never printed after creation. */
  api_key?: string;
  principal?: string;
  /** How the person signed in (`oidc:<provider>`, `saml:<provider>`, `ldap:<provider>`); absent for API keys. */
  sign_in?: string;
  /** Secret: the Host access token of a person's sign-in, reused until shortly before it expires. */
  access_token?: string;
  /** When {@link Profile.access_token} stops being accepted, epoch ms as a decimal string. */
  access_token_expires_at?: string;
  /** Secret: the rotating refresh token of a person's sign-in; replaced at every refresh. */
  refresh_token?: string;
}

/** The fields that hold a credential; a new login replaces all of them. */
export const credentialFields = ["api_key", "sign_in", "access_token", "access_token_expires_at", "refresh_token"] as const satisfies readonly (keyof Profile)[];

/** The whole profile file. */
export interface ProfileFile {
  version: 1;
  current: string;
  profiles: Record<string, Profile>;
}

/** Where the profile file lives for the given environment. */
export function profilePath(env: Readonly<Record<string, string | undefined>>): string {
  const home = env["AESP_HOME"];
  return join(home !== undefined && home !== "" ? home : join(homedir(), ".aesp"), "profiles.json");
}

/**
 * Reads the profile file; a missing file is an empty one.
 * @throws AespError INVALID_ARGUMENT when the file is not valid profile JSON.
 */
export async function readProfiles(path: string): Promise<ProfileFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, current: "default", profiles: {} };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt(path);
  }
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as ProfileFile).profiles !== "object" || (parsed as ProfileFile).profiles === null) throw corrupt(path);
  const file = parsed as Partial<ProfileFile>;
  return { version: 1, current: typeof file.current === "string" && file.current !== "" ? file.current : "default", profiles: file.profiles ?? {} };
}

/**
 * Writes the profile file atomically with mode 0600 (its directory 0700), whatever the umask.
 */
export async function writeProfiles(path: string, file: ProfileFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  // Created 0600 from the start: the key is never readable by others, not even briefly.
  const handle = await open(temporary, "w", 0o600);
  try {
    await handle.writeFile(JSON.stringify(file, null, 2) + "\n", "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/**
 * Merges `changes` into profile `name` (creating it) and writes the file; returns the profile.
 * `undefined` leaves a field as it is, `null` removes it.
 */
export async function updateProfile(path: string, name: string, changes: { [Key in keyof Profile]?: string | null | undefined }, options: { makeCurrent?: boolean } = {}): Promise<Profile> {
  const file = await readProfiles(path);
  const profile: Profile = { ...file.profiles[name] };
  for (const [key, value] of Object.entries(changes) as Array<[keyof Profile, string | null | undefined]>) {
    if (value === undefined) continue;
    if (value === null) delete profile[key];
    else profile[key] = value;
  }
  file.profiles[name] = profile;
  if (options.makeCurrent === true || Object.keys(file.profiles).length === 1) file.current = name;
  await writeProfiles(path, file);
  return profile;
}

/** Whether the profile file can be read by anyone but its owner (a key may have leaked). */
export async function isProfileFileExposed(path: string): Promise<boolean> {
  try {
    return ((await stat(path)).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

function corrupt(path: string): AespError {
  return new AespError({
    code: "INVALID_ARGUMENT",
    message: `The profile file ${path} is not valid.`,
    details: { path },
    remediation: ["Fix or delete the file, then log in again (aesp login)."],
  });
}

/**
 * Runs `work` holding an exclusive lock on the profile file (a `.lock` file created with O_EXCL),
 * so that two `aesp` processes never refresh the same rotating refresh token: the second would
 * present a token the first already rotated, and the Host would revoke the whole sign-in as a
 * replay. A lock older than `staleMs` is from a crashed process and is taken over.
 */
export async function withProfileLock<T>(path: string, work: () => Promise<T>, options: { timeoutMs?: number; staleMs?: number } = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  const staleMs = options.staleMs ?? 30_000;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const handle = await open(lockPath, "wx", 0o600);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = await stat(lockPath).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age > staleMs) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new AespError({
          code: "UNAVAILABLE",
          message: `Another aesp process holds the profile lock ${lockPath}.`,
          details: { path: lockPath },
          remediation: ["Wait for the other aesp command to finish, then retry.", `If none is running, delete ${lockPath}.`],
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockPath, { force: true });
  }
}
