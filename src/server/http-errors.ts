/**
 * Error handling at the HTTP edge: every failure leaves as `{ error: { code, message, details } }` with a
 * stable `RT_…` code and never a stack trace. Fastify's own errors (bad JSON, validation, sizes) are mapped
 * onto the product's codes; anything unexpected is logged with the request id and answered as RT_INTERNAL.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { RoundtripError } from '../core/errors.ts';
import { issueMessage, issuePath } from '../core/validation.ts';
import type { ErrorObject } from 'ajv';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable code, listed in docs/errors.md' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorBody' },
);

const FASTIFY_CODES: Record<string, (error: FastifyError) => RoundtripError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: (e) => new RoundtripError('RT_REQUEST_MALFORMED_JSON', `The body is not valid JSON: ${e.message}`),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new RoundtripError('RT_REQUEST_MALFORMED_JSON', 'The body is empty but the content type says JSON.'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new RoundtripError('RT_REQUEST_TOO_LARGE', 'The body is larger than the server accepts (see bodyLimitBytes).'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (e) => new RoundtripError('RT_UNSUPPORTED_MEDIA_TYPE', e.message),
};

function fromValidation(error: FastifyError): RoundtripError {
  const where = error.validationContext ?? 'body';
  const issues = ((error.validation ?? []) as ErrorObject[]).map((v) => ({ path: issuePath(v, where), message: issueMessage(v) }));
  const first = issues[0];
  return new RoundtripError('RT_REQUEST_INVALID', first ? `${first.path} ${first.message}.` : error.message, { issues });
}

export function toRoundtripError(error: unknown): RoundtripError | undefined {
  if (error instanceof RoundtripError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return fromValidation(fastifyError);
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return mapped(fastifyError);
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return new RoundtripError('RT_REQUEST_MALFORMED_JSON', error.message);
  return undefined;
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const known = toRoundtripError(error);
  if (known) {
    if (known.status >= 500) request.log.error({ err: error }, known.message);
    void reply.status(known.status).send({ error: known.toJSON() });
    return;
  }
  request.log.error({ err: error }, 'unexpected error');
  void reply.status(500).send({ error: { code: 'RT_INTERNAL', message: `Unexpected failure; the server log has it under request id ${request.id}.` } });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(404).send({ error: { code: 'RT_ROUTE_NOT_FOUND', message: `No endpoint ${request.method} ${request.url.split('?')[0]}; /docs lists them.` } });
}
