/**
 * How each identity provider kind's settings are validated, sealed and shown: the host's
 * implementation of the core's {@link ProviderSettingsCodec}.
 *
 * Secrets (LDAP bind passwords, SAML signing keys) are sealed under the master key with
 * AES-256-GCM, bound to their provider and field, so a sealed value copied into another field or
 * provider fails to open. Reads always show {@link maskedSecret}.
 */
import { EnterpriseError, maskedSecret, withoutProvisioningSettings } from "@aesp/core";
import type { IdentityProviderKind, ProviderSettingsCodec } from "@aesp/core";
import { openPrivateKey, sealPrivateKey } from "../crypto/master-key.ts";
import type { MasterKey } from "../crypto/master-key.ts";
import { parseLdapSettings } from "./ldap/ldap-directory.ts";
import { parseOidcSettings } from "./oidc/oidc-verifier.ts";
import { parseSamlSettings } from "./saml/saml-sp.ts";

/** Settings that hold secrets, per provider kind. */
const secretFields: Readonly<Record<IdentityProviderKind, readonly string[]>> = {
  ldap: ["bind_password"],
  oidc: ["client_secret"],
  saml: ["sp_private_key_pem"],
};

const sealedPrefix = "sealed:";

/** {@link ProviderSettingsCodec} over the kinds' parsers and the master key. */
export class HostProviderSettingsCodec implements ProviderSettingsCodec {
  readonly #masterKey: MasterKey;

  constructor(masterKey: MasterKey) {
    this.#masterKey = masterKey;
  }

  prepare(kind: IdentityProviderKind, providerId: string, raw: Record<string, unknown>, previous: Record<string, unknown> | null): Record<string, unknown> {
    const plain: Record<string, unknown> = { ...raw };
    for (const field of secretFields[kind]) {
      if (plain[field] === maskedSecret) {
        if (previous?.[field] === undefined) throw new EnterpriseError("INVALID_ARGUMENT", { details: { field: `settings.${field}`, reason: "no stored value to keep" } });
        plain[field] = this.#open(previous[field], providerId, field);
      }
    }
    // Validate the plain settings with the kind's own parser before anything is stored.
    validate(kind, providerId, plain);
    const stored: Record<string, unknown> = { ...plain };
    for (const field of secretFields[kind]) {
      if (typeof stored[field] === "string" && stored[field] !== "") stored[field] = this.#seal(stored[field], providerId, field);
    }
    return stored;
  }

  redact(kind: IdentityProviderKind, stored: Record<string, unknown>): Record<string, unknown> {
    const shown: Record<string, unknown> = { ...stored };
    for (const field of secretFields[kind]) if (shown[field] !== undefined && shown[field] !== "") shown[field] = maskedSecret;
    return shown;
  }

  /**
   * The settings with secrets opened, for building an adapter. The provisioning settings every
   * kind accepts (`provisioning`, `scim_user_name_claim`) belong to the core, not the adapter, so
   * they are left out: the LDAP and SAML parsers refuse keys they do not know.
   */
  open(kind: IdentityProviderKind, providerId: string, stored: Record<string, unknown>): Record<string, unknown> {
    const plain: Record<string, unknown> = withoutProvisioningSettings(stored);
    for (const field of secretFields[kind]) if (typeof plain[field] === "string" && plain[field] !== "") plain[field] = this.#open(plain[field], providerId, field);
    return plain;
  }

  #seal(value: string, providerId: string, field: string): string {
    return sealedPrefix + sealPrivateKey(this.#masterKey, Buffer.from(value, "utf8"), this.#aad(providerId, field));
  }

  #open(value: unknown, providerId: string, field: string): string {
    if (typeof value !== "string" || !value.startsWith(sealedPrefix)) return typeof value === "string" ? value : "";
    return openPrivateKey(this.#masterKey, value.slice(sealedPrefix.length), this.#aad(providerId, field)).toString("utf8");
  }

  #aad(providerId: string, field: string): string {
    return `identity-provider:${providerId}:${field}`;
  }
}

function validate(kind: IdentityProviderKind, providerId: string, settings: Record<string, unknown>): void {
  const prefixed = (err: unknown): never => {
    if (err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT" && err.details["field"] !== undefined && !err.details["field"].startsWith("settings.")) {
      throw new EnterpriseError("INVALID_ARGUMENT", { message: err.message, details: { ...err.details, field: `settings.${err.details["field"]}` } });
    }
    throw err;
  };
  try {
    switch (kind) {
      case "ldap":
        parseLdapSettings(providerId, settings);
        return;
      case "oidc":
        parseOidcSettings(providerId, settings);
        return;
      case "saml":
        parseSamlSettings(providerId, settings);
        return;
    }
  } catch (err) {
    prefixed(err);
  }
}
