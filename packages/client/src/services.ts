import type { DescService } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import type { Client, Transport } from "@connectrpc/connect";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { EnterpriseAuthenticationService } from "@aesp/proto/authentication";
import { EnterpriseAuthorizationService } from "@aesp/proto/authorization";
import { SessionService, ToolService } from "@aesp/proto/client";
import { EnterpriseConfigurationService } from "@aesp/proto/configuration";
import { ContractService } from "@aesp/proto/contract";
import { EnterpriseCostManagementService } from "@aesp/proto/cost";
import { EnterpriseGovernanceService } from "@aesp/proto/governance";
import { HostService } from "@aesp/proto/host";
import { EnterpriseIdentityService } from "@aesp/proto/identity";
import { IdentityProviderService, ServiceAccountCredentialService } from "@aesp/proto/identity_provider";
import { EnterprisePolicyService } from "@aesp/proto/policy";
import { RuntimeAdminService } from "@aesp/proto/runtime_admin";
import { TenantService } from "@aesp/proto/tenant";
import { toAespError } from "./errors.ts";

/**
 * A Connect client for every service the gateway serves. Methods throw {@link AespError}
 * (never a bare ConnectError) and are authenticated by the client's bearer-token interceptor.
 */
export interface AespServices {
  readonly host: Client<typeof HostService>;
  readonly sessions: Client<typeof SessionService>;
  readonly tools: Client<typeof ToolService>;
  readonly tenants: Client<typeof TenantService>;
  readonly contracts: Client<typeof ContractService>;
  readonly runtimeAdmin: Client<typeof RuntimeAdminService>;
  readonly authentication: Client<typeof EnterpriseAuthenticationService>;
  readonly authorization: Client<typeof EnterpriseAuthorizationService>;
  readonly identity: Client<typeof EnterpriseIdentityService>;
  readonly identityProviders: Client<typeof IdentityProviderService>;
  readonly serviceAccountCredentials: Client<typeof ServiceAccountCredentialService>;
  readonly audit: Client<typeof EnterpriseAuditService>;
  readonly policy: Client<typeof EnterprisePolicyService>;
  readonly cost: Client<typeof EnterpriseCostManagementService>;
  readonly governance: Client<typeof EnterpriseGovernanceService>;
  readonly configuration: Client<typeof EnterpriseConfigurationService>;
}

/** Creates the service clients of {@link AespServices} over `transport`. */
export function createServices(transport: Transport): AespServices {
  const make = <S extends DescService>(service: S): Client<S> => withAespErrors(service, createClient(service, transport));
  return {
    host: make(HostService),
    sessions: make(SessionService),
    tools: make(ToolService),
    tenants: make(TenantService),
    contracts: make(ContractService),
    runtimeAdmin: make(RuntimeAdminService),
    authentication: make(EnterpriseAuthenticationService),
    authorization: make(EnterpriseAuthorizationService),
    identity: make(EnterpriseIdentityService),
    identityProviders: make(IdentityProviderService),
    serviceAccountCredentials: make(ServiceAccountCredentialService),
    audit: make(EnterpriseAuditService),
    policy: make(EnterprisePolicyService),
    cost: make(EnterpriseCostManagementService),
    governance: make(EnterpriseGovernanceService),
    configuration: make(EnterpriseConfigurationService),
  };
}

type AnyMethod = (...args: unknown[]) => unknown;

/** Wraps every method of a Connect client so that failures surface as AespError. */
export function withAespErrors<S extends DescService>(service: S, client: Client<S>): Client<S> {
  const raw = client as unknown as Record<string, AnyMethod>;
  const wrapped: Record<string, AnyMethod> = {};
  for (const method of service.methods) {
    const call = raw[method.localName];
    if (call === undefined) continue;
    switch (method.methodKind) {
      case "unary":
      case "client_streaming":
        wrapped[method.localName] = async (...args: unknown[]) => {
          try {
            return await (call(...args));
          } catch (err) {
            throw toAespError(err);
          }
        };
        break;
      case "server_streaming":
      case "bidi_streaming":
        wrapped[method.localName] = (...args: unknown[]) => rethrowAsAespError(call(...args) as AsyncIterable<unknown>);
        break;
    }
  }
  return wrapped as unknown as Client<S>;
}

async function* rethrowAsAespError<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (err) {
    throw toAespError(err);
  }
}
