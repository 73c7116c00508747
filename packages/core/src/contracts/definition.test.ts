import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ToolContractDefinition } from "../records.ts";
import { contractId, validateContractDefinition } from "./definition.ts";

function valid(): ToolContractDefinition {
  return {
    name: "get_weather",
    contractVersion: "1.2.0",
    description: "Current weather for a city.",
    parameters: { type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] },
    returnType: { type: "OBJECT", properties: { temperature: { type: "NUMBER" } } },
    supportsStreaming: false,
    securityClassification: "internal",
    requiredRoles: ["agent", "weather_reader"],
    requiredPermissions: ["tools:invoke", "weather:*"],
    complianceTags: ["SAFE"],
    riskAssessment: "LOW",
    governanceMetadata: { owner: "team-weather" },
  };
}

function issuePaths(patch: Record<string, unknown>): string[] {
  return validateContractDefinition({ ...valid(), ...patch }).map((issue) => issue.path);
}

void describe("validateContractDefinition", () => {
  void it("accepts a valid definition", () => {
    assert.deepEqual(validateContractDefinition(valid()), []);
    assert.deepEqual(validateContractDefinition({ ...valid(), returnType: null, parameters: { type: "OBJECT", properties: {}, required: [] } }), []);
  });

  void it("applies the ADM name vectors", () => {
    for (const name of ["get_weather", "_private", "a-b", "a".repeat(64)]) assert.deepEqual(issuePaths({ name }), [], name);
    for (const name of ["2get_data", "get data", "get@data", "has.dot", "sum!", "a".repeat(65), "", 7]) {
      assert.deepEqual(issuePaths({ name }), ["/name"], String(name));
    }
  });

  void it("requires strict SemVer", () => {
    for (const contractVersion of ["0.0.1", "1.0.0-rc.1", "1.0.0-alpha.beta+build.5", "10.20.30"]) {
      assert.deepEqual(issuePaths({ contractVersion }), [], contractVersion);
    }
    for (const contractVersion of ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", " 1.0.0", `1.0.0-${"a".repeat(60)}`]) {
      assert.deepEqual(issuePaths({ contractVersion }), ["/contractVersion"], contractVersion);
    }
  });

  void it("requires 1 to 1000 description characters after trimming", () => {
    assert.deepEqual(issuePaths({ description: "   " }), ["/description"]);
    assert.deepEqual(issuePaths({ description: "" }), ["/description"]);
    assert.deepEqual(issuePaths({ description: `  ${"d".repeat(1000)}  ` }), []);
    assert.deepEqual(issuePaths({ description: "d".repeat(1001) }), ["/description"]);
  });

  void it("requires OBJECT parameters and well-formed schemas, with full paths", () => {
    assert.deepEqual(issuePaths({ parameters: { type: "STRING" } }), ["/parameters/type"]);
    assert.deepEqual(issuePaths({ parameters: undefined }), ["/parameters"]);
    assert.deepEqual(issuePaths({ parameters: { type: "OBJECT", properties: { list: { type: "ARRAY" } } } }), ["/parameters/properties/list/items"]);
    assert.deepEqual(issuePaths({ returnType: { type: "INTEGER", enum: ["1"] } }), ["/returnType/enum"]);
  });

  void it("checks the closed vocabularies", () => {
    assert.deepEqual(issuePaths({ securityClassification: "secret" }), ["/securityClassification"]);
    assert.deepEqual(issuePaths({ securityClassification: "PUBLIC" }), ["/securityClassification"]);
    assert.deepEqual(issuePaths({ riskAssessment: "CRITICAL" }), ["/riskAssessment"]);
    assert.deepEqual(issuePaths({ supportsStreaming: "no" }), ["/supportsStreaming"]);
  });

  void it("checks roles and permissions", () => {
    assert.deepEqual(issuePaths({ requiredRoles: ["Bad Role", "ok", "ok"] }), ["/requiredRoles/0", "/requiredRoles/2"]);
    assert.deepEqual(issuePaths({ requiredPermissions: ["*", "*:*", "tools:*", "*:read"] }), []);
    assert.deepEqual(issuePaths({ requiredPermissions: ["tools", "tools:invoke:x", "to*ls:read", "Tools:invoke", ""] }), [
      "/requiredPermissions/0",
      "/requiredPermissions/1",
      "/requiredPermissions/2",
      "/requiredPermissions/3",
      "/requiredPermissions/4",
    ]);
    assert.deepEqual(issuePaths({ requiredRoles: "agent" }), ["/requiredRoles"]);
  });

  void it("checks tags and governance metadata", () => {
    assert.deepEqual(issuePaths({ complianceTags: ["", "x".repeat(257)] }), ["/complianceTags/0", "/complianceTags/1"]);
    assert.deepEqual(issuePaths({ governanceMetadata: { owner: 1 } }), ["/governanceMetadata/owner"]);
    assert.deepEqual(issuePaths({ governanceMetadata: [] }), ["/governanceMetadata"]);
  });

  void it("refuses unknown fields and non-objects", () => {
    assert.deepEqual(issuePaths({ parameter: {} }), ["/parameter"]);
    assert.deepEqual(validateContractDefinition(null), [{ path: "", message: "must be a contract definition object" }]);
    assert.deepEqual(validateContractDefinition("get_weather"), [{ path: "", message: "must be a contract definition object" }]);
  });
});

void describe("contractId", () => {
  void it("joins name and version with @", () => {
    assert.equal(contractId("get_weather", "1.2.0"), "get_weather@1.2.0");
  });
});
