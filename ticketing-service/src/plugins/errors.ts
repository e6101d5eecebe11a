import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';

// Every error leaves the service as `{ "error": { "code": "STABLE_CODE", "message": "…" } }`.
// Expected failures are thrown as HttpError by the routes; Fastify's own errors (validation,
// body parsing, limits) are mapped to stable codes here; anything else is a 500 that is logged
// and never leaks its message.

export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: ErrorCode;
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.headers = headers;
  }
}

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

// The only place a domain error code becomes an HTTP status.
export const statusByCode: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  MALFORMED_REQUEST: 400,
  URL_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  EXPECTATION_FAILED: 417,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_BOOKING_ID: 400,
  QUANTITY_OUT_OF_RANGE: 400,
  SEAT_OUT_OF_RANGE: 400,
  SEATS_QUANTITY_MISMATCH: 400,
  DUPLICATE_SEATS: 400,
  EVENT_LIMIT_EXCEEDED: 400,
  DUPLICATE_SUBSECTION: 400,
  UNAUTHENTICATED: 401,
  TOKEN_INVALID: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  EVENT_NOT_FOUND: 404,
  SECTION_NOT_FOUND: 404,
  SUBSECTION_NOT_FOUND: 404,
  BOOKING_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  BOOKING_ID_CONFLICT: 409,
  EVENT_NOT_ON_SALE: 409,
  EVENT_CANCELLED: 409,
  BOOKING_NOT_PAYABLE: 409,
  BOOKING_NOT_CANCELLABLE: 409,
  HOLD_EXPIRED: 409,
  EMAIL_TAKEN: 409,
  INVALID_CREDENTIALS: 401,
  INVALID_CURSOR: 400,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
  STREAM_LIMIT_REACHED: 503,
  DEPENDENCY_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

const fastifyCodes: Record<string, { status: number; code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: ErrorCode.BODY_TOO_LARGE, message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, message: 'Send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: ErrorCode.INVALID_JSON, message: 'Body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: ErrorCode.INVALID_JSON, message: 'Body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: ErrorCode.VALIDATION_FAILED, message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, code: ErrorCode.UNSUPPORTED_MEDIA_TYPE },
  FST_ERR_BAD_URL: { status: 400, code: ErrorCode.MALFORMED_REQUEST, message: 'The URL has a malformed percent-escape' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: ErrorCode.URL_TOO_LONG, message: 'A path segment is longer than 100 characters' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: ErrorCode.VALIDATION_FAILED },
};

function statusCodeOf(error: FastifyError): number | undefined {
  return typeof error.statusCode === 'number' ? error.statusCode : undefined;
}

export function registerErrorHandling(app: FastifyInstance, options: { onErrorSent?: (request: FastifyRequest, code: ErrorCode) => void } = {}): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = (status: number, code: ErrorCode, message: string) => {
      options.onErrorSent?.(request, code);
      return reply.code(status).send({ error: { code, message } });
    };
    if (error instanceof DomainError) {
      if (error.retryAfterS !== undefined) reply.header('retry-after', String(error.retryAfterS));
      if (error.code === ErrorCode.DEPENDENCY_UNAVAILABLE) request.log.warn({ err: error.cause ?? error }, 'dependency unavailable');
      return answer(statusByCode[error.code], error.code, error.message);
    }
    if (error instanceof HttpError) {
      reply.headers(error.headers);
      return answer(error.statusCode, error.code, error.message);
    }
    if (error.validation) {
      const context = error.validationContext ?? 'request';
      return answer(400, ErrorCode.VALIDATION_FAILED, `Invalid ${context}: ${error.message}`);
    }
    const known = fastifyCodes[error.code];
    if (known) return answer(known.status, known.code, known.message ?? error.message);
    if (error instanceof SyntaxError) return answer(400, ErrorCode.INVALID_JSON, 'Body is not valid JSON');
    const status = statusCodeOf(error);
    if (status === 429) return answer(429, ErrorCode.RATE_LIMITED, 'Too many requests; retry after the time in Retry-After');
    if (status === 503) return answer(503, ErrorCode.OVERLOADED, 'Service is overloaded; retry after the time in Retry-After');
    if (status !== undefined && status >= 400 && status < 500) return answer(status, ErrorCode.VALIDATION_FAILED, error.message);
    request.log.error({ err: error }, 'unhandled error');
    return answer(500, ErrorCode.INTERNAL_ERROR, 'Internal error; the request may be retried');
  });

  app.setNotFoundHandler((request, reply) => {
    options.onErrorSent?.(request, ErrorCode.NOT_FOUND);
    reply.code(404).send({ error: { code: ErrorCode.NOT_FOUND, message: `No route for ${request.method} ${request.url.split('?')[0]}` } });
  });
}

// Errors the router raises before any route or hook runs (a bad percent-escape, an over-long
// path segment): Fastify's frameworkErrors option sends them here, in the same shape.
export function createFrameworkErrorHandler(onErrorSent?: (request: FastifyRequest, code: ErrorCode) => void) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const known = fastifyCodes[error.code] ?? { status: 400, code: ErrorCode.MALFORMED_REQUEST, message: 'Malformed request' };
    onErrorSent?.(request, known.code);
    void reply.code(known.status).send({ error: { code: known.code, message: known.message ?? error.message } });
  };
}

// Requests the HTTP parser cannot read at all (bad framing, illegal characters, an unknown
// method, a head over the size limit) never reach Fastify: Node hands the socket here. The
// answer keeps the API's error shape and closes the connection, whose framing is now unknown.
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const code = tooLarge ? ErrorCode.HEADERS_TOO_LARGE : ErrorCode.MALFORMED_REQUEST;
  const message = tooLarge ? 'The request head is larger than 16 KiB' : 'The request is not well-formed HTTP/1.1';
  socket.end(rawResponse(status, { error: { code, message } }));
}

// What Node's parser accepts but HTTP/1.1 still forbids, or what Node itself would answer
// with an empty body: a request without Host (RFC 9112 §3.2), an Expect other than
// 100-continue.
export function registerProtocolChecks(app: FastifyInstance): void {
  app.server.on('checkExpectation', expectationFailed);
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new HttpError(400, ErrorCode.MALFORMED_REQUEST, 'An HTTP/1.1 request needs a Host header');
    }
  });
}

function expectationFailed(_request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({ error: { code: ErrorCode.EXPECTATION_FAILED, message: 'Only Expect: 100-continue is supported' } });
  response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

function rawResponse(status: number, body: unknown): string {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`;
}
