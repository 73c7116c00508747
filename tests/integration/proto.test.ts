// The generated wire code: messages survive binary and JSON round trips, JSON is ADM JSON
// (snake_case keys, bare enum names), field numbers the runtime and client planes depend on stay
// pinned, and the eight AESP enterprise services carry exactly the RPCs of the seeds.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, equals, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import { FunctionDeclarationSchema, ResultStatus, SchemaSchema, SchemaType, ToolResultSchema } from "@aesp/proto/adm";
import { EnterpriseErrorSchema, EnterpriseToolContractSchema } from "@aesp/proto/enterprise";
import {
  AnnouncementAcceptedSchema,
  HostMessageSchema,
  RuntimeMessageSchema,
  RuntimeService,
  RuntimeToolResultSchema,
  StreamChunkSchema,
  ToolCallSchema,
} from "@aesp/proto/runtime";
import { InvokeToolRequestSchema, InvokeToolStreamResponseSchema, SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { EnterpriseAuthorizationService } from "@aesp/proto/authorization";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { EnterpriseCostManagementService } from "@aesp/proto/cost";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { EnterpriseConfigurationService } from "@aesp/proto/configuration";

const snakeCase = { useProtoFieldName: true } as const;

function fieldNumbers(schema: DescMessage): Record<string, number> {
  return Object.fromEntries(schema.fields.map((field) => [field.name, field.number]));
}

function methodNames(service: DescService): string[] {
  return service.methods.map((method) => method.name);
}

void describe("generated messages", () => {
  void it("round-trips a ToolCall with arguments and security context through binary", () => {
    const call = create(ToolCallSchema, {
      invocationId: "inv-1",
      correlationId: "client-1691568000-a7b9c3d2",
      call: { callId: "f47ac10b-58cc-4372-a567-0e02b2c3d479", name: "get_weather_forecast", args: { location: "San Francisco, CA", days: 3, units: ["celsius"] } },
      contractVersion: "1.2.0",
      deadlineUnixMs: 1_700_000_000_123n,
      stream: true,
      securityContext: { principalId: "alice", tenantId: "acme", roles: ["analyst"], claims: { mfa: "true" } },
      sessionId: "sess-1",
    });
    const decoded = fromBinary(ToolCallSchema, toBinary(ToolCallSchema, call));
    assert.ok(equals(ToolCallSchema, call, decoded));
    assert.equal(decoded.deadlineUnixMs, 1_700_000_000_123n);
    assert.deepEqual(decoded.call?.args, { location: "San Francisco, CA", days: 3, units: ["celsius"] });
    assert.equal(decoded.securityContext?.claims["mfa"], "true");
  });

  void it("round-trips the runtime stream envelopes and keeps the chosen oneof arm", () => {
    const fromRuntime = create(RuntimeMessageSchema, {
      kind: { case: "result", value: { invocationId: "inv-1", executionTimeMs: 12n, result: { callId: "c1", name: "echo", status: ResultStatus.SUCCESS, content: { kind: { case: "stringValue", value: "hi" } } } } },
    });
    const runtimeDecoded = fromBinary(RuntimeMessageSchema, toBinary(RuntimeMessageSchema, fromRuntime));
    assert.equal(runtimeDecoded.kind.case, "result");
    assert.ok(equals(RuntimeMessageSchema, fromRuntime, runtimeDecoded));

    const fromHost = create(HostMessageSchema, { kind: { case: "accepted", value: { runtimeId: "rt-1", acceptedContracts: ["echo@1.0.0"], heartbeatIntervalMs: 5000, maxInFlight: 256 } } });
    const hostDecoded = fromBinary(HostMessageSchema, toBinary(HostMessageSchema, fromHost));
    assert.equal(hostDecoded.kind.case, "accepted");
    assert.deepEqual(hostDecoded.kind.case === "accepted" ? hostDecoded.kind.value.acceptedContracts : [], ["echo@1.0.0"]);
  });

  void it("writes JSON with the proto field names and ADM's bare enum names", () => {
    const request = create(InvokeToolRequestSchema, {
      sessionId: "sess-1",
      call: { callId: "c-1", name: "get_system_status", args: {} },
      contractVersion: "2.0.0",
      timeoutMs: 1500,
      correlationId: "corr-1",
    });
    assert.deepEqual(toJson(InvokeToolRequestSchema, request, snakeCase), {
      session_id: "sess-1",
      call: { call_id: "c-1", name: "get_system_status", args: {} },
      contract_version: "2.0.0",
      timeout_ms: 1500,
      correlation_id: "corr-1",
    });

    const failed = create(ToolResultSchema, { callId: "c-1", name: "lookup", status: ResultStatus.ERROR, error: { message: "No such order.", type: "RESOURCE_NOT_FOUND" } });
    assert.deepEqual(toJson(ToolResultSchema, failed, snakeCase), {
      call_id: "c-1",
      name: "lookup",
      status: "ERROR",
      error: { message: "No such order.", type: "RESOURCE_NOT_FOUND" },
    });
  });

  void it("reads an ADM FunctionDeclaration as written in ADM JSON and writes it back unchanged", () => {
    const admJson = {
      name: "get_weather_forecast",
      description: "Forecast for a city.",
      parameters: {
        type: "OBJECT",
        properties: {
          location: { type: "STRING", description: "City and region." },
          days: { type: "INTEGER", minimum: 1, maximum: 14 },
          units: { type: "STRING", enum: ["celsius", "fahrenheit"] },
          tags: { type: "ARRAY", items: { type: "STRING" }, min_items: 0 },
        },
        required: ["location"],
        additional_properties: false,
      },
    };
    const declaration = fromJson(FunctionDeclarationSchema, admJson, { ignoreUnknownFields: false });
    assert.equal(declaration.parameters?.type, SchemaType.OBJECT);
    assert.equal(declaration.parameters?.properties["days"]?.minimum, 1);
    // `optional` keeps an explicit zero or false distinct from "not set".
    assert.equal(declaration.parameters?.properties["tags"]?.minItems, 0);
    assert.equal(declaration.parameters?.properties["location"]?.minLength, undefined);
    assert.equal(declaration.parameters?.additionalProperties, false);
    assert.deepEqual(toJson(FunctionDeclarationSchema, declaration, snakeCase), admJson);
  });

  void it("rejects an ADM schema with an unknown type name", () => {
    assert.throws(() => fromJson(SchemaSchema, { type: "DATETIME" }));
  });

  void it("round-trips an EnterpriseToolContract and an EnterpriseError through JSON", () => {
    const contractJson = {
      name: "lookup_customer",
      contract_version: "1.0.0",
      description: "Find a customer by id.",
      parameters: { type: "OBJECT", properties: { id: { type: "STRING", secret: true } }, required: ["id"] },
      return_type: { type: "OBJECT", nullable: true },
      supports_streaming: true,
      security_classification: "confidential",
      required_roles: ["support"],
      required_permissions: ["customers:read"],
      approval_status: "ACTIVE",
      approved_by: "bob",
      approved_at: "1700000000000",
      compliance_tags: ["GDPR"],
      risk_assessment: "MEDIUM",
      governance_metadata: { owner: "crm-team" },
    };
    const contract = fromJson(EnterpriseToolContractSchema, contractJson);
    assert.equal(contract.approvedAt, 1_700_000_000_000n);
    assert.deepEqual(toJson(EnterpriseToolContractSchema, contract, snakeCase), contractJson);
    const again = fromBinary(EnterpriseToolContractSchema, toBinary(EnterpriseToolContractSchema, contract));
    assert.ok(equals(EnterpriseToolContractSchema, contract, again));

    const errorJson = {
      code: "AUTHORIZATION_DENIED",
      message: "The principal is not authorized for this action.",
      details: { permission: "tools:invoke" },
      tenant_id: "acme",
      correlation_id: "corr-9",
      retry_after_ms: "0",
      remediation_steps: ["Ask a tenant administrator for the role or permission named in details."],
      escalation_required: true,
    };
    const error = fromJson(EnterpriseErrorSchema, errorJson);
    // proto3 JSON omits zero values: retry_after_ms 0 disappears on the way out.
    const { retry_after_ms: _omitted, ...withoutZero } = errorJson;
    assert.deepEqual(toJson(EnterpriseErrorSchema, error, snakeCase), withoutZero);
  });

  void it("streams chunks and a final result through InvokeToolStreamResponse JSON", () => {
    const chunk = create(InvokeToolStreamResponseSchema, {
      kind: { case: "chunk", value: { invocationId: "inv-2", sequence: 0n, payload: { kind: { case: "numberValue", value: 42 } } } },
      invocationId: "inv-2",
      correlationId: "corr-2",
    });
    const json = toJson(InvokeToolStreamResponseSchema, chunk, snakeCase);
    assert.deepEqual(json, { chunk: { invocation_id: "inv-2", payload: 42 }, invocation_id: "inv-2", correlation_id: "corr-2" });
    assert.ok(equals(InvokeToolStreamResponseSchema, chunk, fromJson(InvokeToolStreamResponseSchema, json)));
  });
});

void describe("pinned field numbers of the runtime and client planes", () => {
  void it("keeps the runtime protocol's numbering", () => {
    assert.deepEqual(fieldNumbers(RuntimeMessageSchema), { announcement: 1, result: 2, chunk: 3, heartbeat: 4, drain: 5, cancel_ack: 6 });
    assert.deepEqual(fieldNumbers(HostMessageSchema), { accepted: 1, rejected: 2, call: 3, cancel: 4, heartbeat: 5, drain: 6, error: 7 });
    assert.deepEqual(fieldNumbers(ToolCallSchema), {
      invocation_id: 1, correlation_id: 2, call: 3, contract_version: 4, deadline_unix_ms: 5, stream: 6, security_context: 7, session_id: 8,
    });
    assert.deepEqual(fieldNumbers(AnnouncementAcceptedSchema), { runtime_id: 1, accepted_contracts: 2, heartbeat_interval_ms: 3, max_in_flight: 4 });
    assert.deepEqual(fieldNumbers(RuntimeToolResultSchema), { invocation_id: 1, result: 2, execution_time_ms: 3 });
    assert.deepEqual(fieldNumbers(StreamChunkSchema), { invocation_id: 1, sequence: 2, payload: 3 });
  });

  void it("keeps the client protocol's numbering", () => {
    assert.deepEqual(fieldNumbers(InvokeToolRequestSchema), { session_id: 1, call: 2, contract_version: 3, timeout_ms: 4, correlation_id: 5 });
    assert.deepEqual(fieldNumbers(InvokeToolStreamResponseSchema), { chunk: 1, result: 2, invocation_id: 3, correlation_id: 4 });
  });

  void it("keeps the AESP seed numbering of EnterpriseError", () => {
    assert.deepEqual(fieldNumbers(EnterpriseErrorSchema), {
      code: 1, message: 2, details: 3, tenant_id: 4, principal_id: 5, correlation_id: 6, retry_after_ms: 7,
      security_implications: 8, compliance_impact: 9, remediation_steps: 10, escalation_required: 11,
    });
  });
});

void describe("services", () => {
  void it("declares the eight AESP enterprise services with exactly the seeds' RPCs", () => {
    const expected: [DescService, string[]][] = [
      [EnterpriseAuthenticationService, ["AuthenticateUser", "AuthenticateServiceAccount", "ValidateToken", "RefreshToken", "RevokeToken", "GetUserRoles", "GetUserPermissions"]],
      [EnterpriseAuthorizationService, ["AuthorizeAction", "CheckPermission", "GetEffectivePermissions", "EvaluatePolicy", "CreateRole", "AssignRole", "RevokeRole"]],
      // After the seed's five: invented proofs, checkpoints and keys, SIEM dead letters, retention and erasure.
      [
        EnterpriseAuditService,
        [
          "LogEvent",
          "QueryEvents",
          "GetComplianceReport",
          "ExportAuditLogs",
          "GetAuditStatistics",
          "GetInclusionProof",
          "GetConsistencyProof",
          "GetCheckpoint",
          "ListCheckpoints",
          "GetAuditVerifierKeys",
          "RotateAuditSigningKey",
          "ListDeadLetters",
          "ReplayDeadLetters",
          "SetRetentionPolicy",
          "ListRetentionPolicies",
          "PlaceLegalHold",
          "ReleaseLegalHold",
          "ListLegalHolds",
          "EraseSubject",
        ],
      ],
      // The last five are invented (staged rollouts), appended after the seed's RPCs.
      [
        EnterprisePolicyService,
        ["CreatePolicy", "UpdatePolicy", "DeletePolicy", "GetPolicy", "ListPolicies", "EvaluatePolicy", "TestPolicy", "ValidatePolicy", "StartPolicyRollout", "GetPolicyRollout", "ListPolicyRollouts", "PromotePolicyRollout", "StopPolicyRollout"],
      ],
      [EnterpriseCostManagementService, ["RecordUsage", "GetUsageReport", "GetTenantCosts", "CreateBudget", "SetBudgetAlerts", "GetCostForecast", "GenerateInvoice"]],
      [EnterpriseGovernanceService, ["RequestApproval", "AdjudicateApproval", "ListPendingApprovals", "GetApprovalHistory", "CreateApprovalWorkflow", "UpdateApprovalWorkflow"]],
      [EnterpriseIdentityService, ["CreateServiceAccount", "ListServiceAccounts", "RevokeServiceAccount", "ListPrincipals", "GetPrincipalDetails", "UpdatePrincipalRoles", "GetPrincipalAuditTrail"]],
      [EnterpriseConfigurationService, ["GetConfigValue", "SetConfigValue", "ListConfigKeys", "SubscribeToChanges", "GetConfigHistory", "RollbackConfig"]],
    ];
    assert.deepEqual(expected.map(([service]) => service.methods.length), [7, 7, 19, 13, 7, 6, 7, 6]);
    for (const [service, names] of expected) {
      assert.match(service.typeName, /^aesp\.v1\.Enterprise[A-Za-z]+Service$/);
      assert.deepEqual(methodNames(service), names, service.typeName);
    }
  });

  void it("streams exactly where the protocol says", () => {
    const kinds = (service: DescService): Record<string, string> => Object.fromEntries(service.methods.map((method) => [method.name, method.methodKind]));
    assert.deepEqual(kinds(RuntimeService), { Connect: "bidi_streaming" });
    assert.equal(kinds(EnterpriseAuditService)["ExportAuditLogs"], "server_streaming");
    assert.equal(kinds(EnterpriseConfigurationService)["SubscribeToChanges"], "server_streaming");
    assert.equal(EnterpriseConfigurationService.method.subscribeToChanges.output.typeName, "aesp.v1.ConfigChangeEvent");
    assert.deepEqual(kinds(ToolService), { InvokeTool: "unary", InvokeToolStream: "server_streaming", ListTools: "unary" });
    assert.deepEqual(methodNames(SessionService), ["CreateSession", "DestroySession", "GetSession"]);
    const otherStreams = [EnterpriseAuthenticationService, EnterpriseAuthorizationService, EnterprisePolicyService, EnterpriseCostManagementService, EnterpriseGovernanceService, EnterpriseIdentityService]
      .flatMap((service) => service.methods)
      .filter((method) => method.methodKind !== "unary");
    assert.deepEqual(otherStreams, []);
  });

  void it("gives the two EvaluatePolicy RPCs distinct request messages", () => {
    assert.equal(EnterprisePolicyService.method.evaluatePolicy.input.typeName, "aesp.v1.EvaluatePolicyRequest");
    assert.equal(EnterpriseAuthorizationService.method.evaluatePolicy.input.typeName, "aesp.v1.AuthorizationEvaluatePolicyRequest");
  });
});
