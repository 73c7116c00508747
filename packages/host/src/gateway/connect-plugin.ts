/**
 * Serves Connect routes on Fastify, like @connectrpc/connect-fastify, with one addition:
 * errors the Connect framework raises before a handler runs (an undecodable body, a body
 * over the size limit, an unsupported content type) are rewritten to carry an
 * `aesp.v1.EnterpriseError` detail like every other error, so clients see one error model.
 *
 * Covered: Connect unary (JSON error body) and gRPC (trailers). gRPC-Web and Connect
 * streaming errors are framed inside the body and pass through unchanged.
 */
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import type { ConnectRouter, ConnectRouterOptions, ContextValues } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, contentTypeRegExp as connectContentTypeRegExp, contentTypeStreamJson, contentTypeUnaryJson, errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { contentTypeJson as grpcJson, contentTypeProto as grpcProto, contentTypeRegExp as grpcContentTypeRegExp, findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { contentTypeJson as grpcWebJson, contentTypeProto as grpcWebProto, contentTypeRegExp as grpcWebContentTypeRegExp } from "@connectrpc/connect/protocol-grpc-web";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { EnterpriseErrorSchema } from "@aesp/proto/enterprise";
import { toConnectError } from "./errors.ts";

/** Options of {@link registerConnectRoutes}. */
export interface ConnectRoutesOptions extends Partial<ConnectRouterOptions> {
  readonly routes: (router: ConnectRouter) => void;
  readonly contextValues: (req: FastifyRequest) => ContextValues;
  /** The correlation id of a request, for errors raised before any handler ran. */
  readonly correlationIdOf: (req: FastifyRequest) => string;
  readonly onError: (err: unknown, rpc: string) => void;
}

/**
 * Registers every Connect route on `app`. Call it inside an encapsulated plugin: it replaces
 * the content-type parsers of its scope, because Connect reads and limits bodies itself.
 */
export function registerConnectRoutes(app: FastifyInstance, options: ConnectRoutesOptions): void {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  // Connect reads bodies itself: its content types pass through Fastify unparsed (as in
  // @connectrpc/connect-fastify); anything else reaches Connect too, which refuses it properly.
  const noop = (_req: unknown, _payload: unknown, done: (err: Error | null, body?: unknown) => void) => done(null, undefined);
  app.addContentTypeParser([contentTypeUnaryJson, contentTypeStreamJson, grpcWebProto, grpcWebJson, grpcProto, grpcJson], noop);
  app.addContentTypeParser(grpcContentTypeRegExp, noop);
  app.addContentTypeParser(grpcWebContentTypeRegExp, noop);
  app.addContentTypeParser(connectContentTypeRegExp, noop);
  for (const handler of router.handlers) {
    const rpc = `${handler.service.typeName}/${handler.method.name}`;
    app.all(handler.requestPath, async (req, reply) => {
      try {
        const response = await handler(universalRequestFromNodeRequest(req.raw, reply.raw, undefined, options.contextValues(req)));
        for (const [key, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(key, value);
        await universalResponseToNodeResponse(await withEnterpriseErrors(response, options.correlationIdOf(req)), reply.raw);
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Aborted) options.onError(err, rpc);
      }
    });
  }
}

const jsonContentType = /^application\/json/;
const grpcContentType = /^application\/grpc(\+proto|\+json)?$/;

async function withEnterpriseErrors(response: UniversalServerResponse, correlationId: string): Promise<UniversalServerResponse> {
  const contentType = response.header?.get("content-type") ?? "";
  if (response.status >= 400 && jsonContentType.test(contentType) && response.body !== undefined) {
    const body = await collect(response.body);
    let error: ConnectError;
    try {
      error = errorFromJsonBytes(body, undefined, new ConnectError("unexpected error body", Code.Internal));
    } catch {
      return { ...response, body: single(body) };
    }
    if (error.findDetails(EnterpriseErrorSchema).length > 0) return { ...response, body: single(body) };
    const enriched = toConnectError(error, correlationId);
    const bytes = errorToJsonBytes(enriched, {});
    const header = new Headers(response.header);
    header.set("content-length", String(bytes.byteLength));
    return { ...response, status: codeToHttpStatus(enriched.code), header, body: single(bytes) };
  }
  if (grpcContentType.test(contentType) && response.trailer !== undefined) {
    const trailer = response.trailer;
    const body = response.body;
    // gRPC status travels in trailers, written after the body: rewrite them once it is drained.
    const rewrite = () => {
      const error = findTrailerError(trailer);
      if (error === undefined || error.findDetails(EnterpriseErrorSchema).length > 0) return;
      for (const key of ["grpc-status", "grpc-message", "grpc-status-details-bin"]) trailer.delete(key);
      setTrailerStatus(trailer, toConnectError(error, correlationId));
    };
    if (body === undefined) {
      rewrite();
      return response;
    }
    return {
      ...response,
      body: (async function* () {
        yield* body;
        rewrite();
      })(),
    };
  }
  return response;
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* single(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
