import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnterpriseError } from "../errors.ts";
import type { IdentityProviderRecord } from "../records.ts";
import { parseProvisioningSettings, scimGroupRoles, withoutProvisioningSettings } from "./identity-providers.ts";

function provider(providerId: string, settings: Record<string, unknown>, groupRoles: Record<string, string[]>): IdentityProviderRecord {
  return { tenantId: "acme", providerId, kind: "oidc", displayName: providerId, enabled: true, settings, mapping: { groupRoles }, jitProvisioning: false, createdAt: 0, updatedAt: 0, updatedBy: "", revision: 0 };
}

function fieldOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (err) {
    assert.ok(err instanceof EnterpriseError && err.code === "INVALID_ARGUMENT");
    return err.details["field"];
  }
  return assert.fail("expected INVALID_ARGUMENT");
}

describe("provisioning settings", () => {
  it("default to just-in-time provisioning", () => {
    assert.deepEqual(parseProvisioningSettings({ issuer: "https://idp.example" }), { mode: "jit", userNameClaim: null });
    assert.deepEqual(parseProvisioningSettings({ provisioning: "scim", scim_user_name_claim: "email" }), { mode: "scim", userNameClaim: "email" });
  });

  it("refuse unknown modes, bad claim names and a claim without SCIM provisioning", () => {
    assert.equal(fieldOf(() => parseProvisioningSettings({ provisioning: "SCIM" })), "settings.provisioning");
    assert.equal(fieldOf(() => parseProvisioningSettings({ provisioning: "scim", scim_user_name_claim: "" })), "settings.scim_user_name_claim");
    assert.equal(fieldOf(() => parseProvisioningSettings({ provisioning: "scim", scim_user_name_claim: ["email"] })), "settings.scim_user_name_claim");
    assert.equal(fieldOf(() => parseProvisioningSettings({ scim_user_name_claim: "email" })), "settings.scim_user_name_claim");
  });

  it("are kept out of what the kind's own parser sees", () => {
    assert.deepEqual(withoutProvisioningSettings({ url: "ldaps://x", provisioning: "scim", scim_user_name_claim: "uid" }), { url: "ldaps://x" });
  });
});

describe("scimGroupRoles", () => {
  it("merges the group_roles of the SCIM-provisioned providers only", () => {
    const roles = scimGroupRoles([
      provider("okta", { provisioning: "scim" }, { Engineering: ["agent"], Audit: ["auditor"] }),
      provider("okta-saml", { provisioning: "scim" }, { Engineering: ["contract-author", "agent"] }),
      provider("ldap", {}, { Engineering: ["tenant-admin"], Admins: ["tenant-admin"] }),
    ]);
    assert.deepEqual(roles, { Engineering: ["agent", "contract-author"], Audit: ["auditor"] });
  });
});
