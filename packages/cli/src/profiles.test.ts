import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { AespError } from "@aesp/client";
import { isProfileFileExposed, profilePath, readProfiles, updateProfile } from "./profiles.ts";

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), "aesp-profiles-"));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

test("the file lives in $AESP_HOME, else ~/.aesp", () => {
  assert.equal(profilePath({ AESP_HOME: "/x/y" }), "/x/y/profiles.json");
  assert.match(profilePath({}), /\/\.aesp\/profiles\.json$/);
});

test("a missing file is an empty one", async () => {
  assert.deepEqual(await readProfiles(join(home, "missing", "profiles.json")), { version: 1, current: "default", profiles: {} });
});

test("writes mode 0600 in a 0700 directory even under a permissive umask", async () => {
  const path = join(home, "perm", "profiles.json");
  const previous = process.umask(0);
  try {
    await updateProfile(path, "default", { host: "https://h:7443", api_key: "aesp.acme.k.s" });
  } finally {
    process.umask(previous);
  }
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(home, "perm"))).mode & 0o777, 0o700);
  assert.equal(await isProfileFileExposed(path), false);
});

test("keeps 0600 when an existing file was world-readable, and merges updates", async () => {
  const path = join(home, "merge", "profiles.json");
  await updateProfile(path, "ops", { host: "https://a", tenant: "acme" });
  await chmod(path, 0o644);
  assert.equal(await isProfileFileExposed(path), true);
  await updateProfile(path, "ops", { api_key: "aesp.acme.k.s", ca: undefined });
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const file = await readProfiles(path);
  assert.deepEqual(file.profiles["ops"], { host: "https://a", tenant: "acme", api_key: "aesp.acme.k.s" });
  assert.equal(file.current, "ops", "the first profile becomes current");
  await updateProfile(path, "other", { host: "https://b" });
  assert.equal((await readProfiles(path)).current, "ops", "adding a profile does not switch");
  await updateProfile(path, "other", {}, { makeCurrent: true });
  assert.equal((await readProfiles(path)).current, "other");
});

test("a corrupt file is reported, not overwritten", async () => {
  const path = join(home, "corrupt.json");
  await writeFile(path, "{not json");
  await assert.rejects(readProfiles(path), (err: unknown) => err instanceof AespError && err.code === "INVALID_ARGUMENT");
  await writeFile(path, JSON.stringify({ profiles: null }));
  await assert.rejects(readProfiles(path), (err: unknown) => err instanceof AespError);
});
