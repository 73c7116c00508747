/**
 * Secrets in configuration are references, never values: `env:NAME` reads an environment variable,
 * `file:/path` reads a file (trailing newline trimmed). A literal is refused, so a secret cannot
 * end up in a config file, a `--flag` in `ps`, or a log of the effective configuration.
 */
import { readFile } from "node:fs/promises";
import { EnterpriseError } from "@aesp/core";

/**
 * Resolves a secret reference.
 *
 * @param key - The configuration key, for messages.
 * @param reference - `env:NAME` or `file:/path`.
 * @param env - The Host's environment.
 * @returns The secret.
 * @throws EnterpriseError INVALID_ARGUMENT naming the key (never the secret) when the reference is
 *   malformed, missing, unreadable or empty.
 */
export async function resolveSecretRef(key: string, reference: string, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const invalid = (message: string) => new EnterpriseError("INVALID_ARGUMENT", { message: `${key}: ${message}`, details: { key } });
  let secret: string;
  if (reference.startsWith("env:")) {
    const name = reference.slice(4);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalid("write env:NAME with an environment variable name.");
    secret = env[name] ?? "";
    if (secret === "") throw invalid(`the environment variable ${name} is not set or empty.`);
  } else if (reference.startsWith("file:")) {
    const path = reference.slice(5);
    try {
      secret = (await readFile(path, "utf8")).replace(/\r?\n$/, "");
    } catch {
      throw invalid(`cannot read the secret file ${path}.`);
    }
    if (secret === "") throw invalid(`the secret file ${path} is empty.`);
  } else {
    throw invalid("give the secret as a reference, env:NAME or file:/path; literal secrets are refused so they never appear in configuration or logs.");
  }
  if (secret.length < 16) throw invalid("the secret is shorter than 16 characters; use at least 32 random bytes.");
  return secret;
}
