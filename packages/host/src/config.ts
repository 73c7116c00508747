import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { EnterpriseError, hostConfigSchema, resolveConfig } from "@aesp/core";
import type { HostConfigSchema, ResolvedConfig } from "@aesp/core";

/** How a Host is configured: an optional YAML file, the environment and flags. */
export interface HostConfigSources {
  readonly configFile?: string;
  readonly flags?: Record<string, unknown>;
  readonly env?: Record<string, string | undefined>;
}

export type HostConfig = ResolvedConfig<HostConfigSchema>;

/**
 * Resolves the Host's configuration and derived paths.
 * @throws EnterpriseError INVALID_ARGUMENT naming the bad key and its source.
 */
export async function loadHostConfig(sources: HostConfigSources): Promise<HostConfig & { dataDir: string; sqlitePath: string }> {
  let file: Record<string, unknown> | undefined;
  if (sources.configFile !== undefined) {
    let text: string;
    try {
      text = await readFile(sources.configFile, "utf8");
    } catch (cause) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: `Cannot read the configuration file ${sources.configFile}.`, cause });
    }
    const parsed: unknown = parseYaml(text, { maxAliasCount: 10 });
    if (parsed !== null && (typeof parsed !== "object" || Array.isArray(parsed))) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: `${sources.configFile} must hold a YAML mapping of configuration keys.` });
    }
    file = (parsed ?? {}) as Record<string, unknown>;
  }
  const config = resolveConfig(hostConfigSchema, {
    ...(file === undefined ? {} : { file }),
    env: sources.env ?? {},
    ...(sources.flags === undefined ? {} : { flags: sources.flags }),
  });
  const dataDir = path.resolve(config.values.data_dir);
  const sqlitePath = config.values["storage.sqlite_path"] === "" ? path.join(dataDir, "aesp.db") : path.resolve(config.values["storage.sqlite_path"]);
  if (config.values["storage.kind"] === "postgres" && config.values["storage.postgres_url"] === "") {
    throw new EnterpriseError("INVALID_ARGUMENT", { message: "storage.kind=postgres needs storage.postgres_url (AESP_STORAGE_POSTGRES_URL).", details: { key: "storage.postgres_url" } });
  }
  return { ...config, dataDir, sqlitePath };
}
