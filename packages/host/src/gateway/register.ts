import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { EnterpriseError } from "@aesp/core";
import { originKey } from "./context.ts";
import { toConnectError } from "./errors.ts";

// Handlers are typed per service by Connect; here they are treated uniformly to wrap them.
type AnyHandler = (request: unknown, context: HandlerContext) => unknown;

/**
 * Registers a service so that every method answers with an EnterpriseError on failure:
 * implemented methods are wrapped, and methods without an implementation answer
 * UNIMPLEMENTED (listed as such in docs/reference/api.md).
 *
 * @returns the fully qualified names of the methods that are implemented.
 */
export function registerService(
  router: ConnectRouter,
  service: DescService,
  implementation: Record<string, AnyHandler>,
  onInternalError: (err: unknown, rpc: string) => void = () => undefined,
): string[] {
  const handlers: Record<string, AnyHandler> = {};
  const implemented: string[] = [];
  for (const method of service.methods) {
    const impl = implementation[method.localName];
    if (impl !== undefined) implemented.push(`${service.typeName}/${method.name}`);
    const streaming = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
    if (streaming) {
      handlers[method.localName] = async function* (request: unknown, context: HandlerContext) {
        const correlationId = context.values.get(originKey).correlationId;
        try {
          if (impl === undefined) throw unimplemented(service, method.name);
          yield* impl(request, context) as AsyncIterable<unknown>;
        } catch (err) {
          if (isServerFault(err)) onInternalError(err, `${service.typeName}/${method.name}`);
          throw toConnectError(err, correlationId);
        }
      };
    } else {
      handlers[method.localName] = async (request: unknown, context: HandlerContext) => {
        const correlationId = context.values.get(originKey).correlationId;
        try {
          if (impl === undefined) throw unimplemented(service, method.name);
          return await impl(request, context);
        } catch (err) {
          if (isServerFault(err)) onInternalError(err, `${service.typeName}/${method.name}`);
          throw toConnectError(err, correlationId);
        }
      };
    }
  }
  router.service(service, handlers as never);
  return implemented;
}

/** Failures worth an operator's attention: anything unexpected, internal or unavailable. */
function isServerFault(err: unknown): boolean {
  return !(err instanceof EnterpriseError) || err.status === "internal" || err.status === "unavailable";
}

function unimplemented(service: DescService, method: string): EnterpriseError {
  return new EnterpriseError("UNIMPLEMENTED", { details: { rpc: `${service.typeName}/${method}` } });
}
