import type { ErrorCode } from './error-codes.ts';

// An expected refusal with a stable code (bad input, unknown ids, conflicts, a dependency
// that is down). The HTTP layer maps codes to status codes; the core never sees HTTP.
export class DomainError extends Error {
  readonly code: ErrorCode;
  // Seconds a client should wait before retrying, for refusals that are temporary.
  readonly retryAfterS: number | undefined;
  constructor(code: ErrorCode, message: string, options: { retryAfterS?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterS = options.retryAfterS;
  }
}
