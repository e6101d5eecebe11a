import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';

// Redis or Postgres failing under a request is a temporary refusal (503 with Retry-After),
// not a server bug.
export async function infra<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError(ErrorCode.DEPENDENCY_UNAVAILABLE, 'A dependency is unavailable; retry the request', { retryAfterS: 1, cause: error });
  }
}

// Kafka did not take a command: nothing happened, and the same request may be sent again.
export async function queued(publish: Promise<void>): Promise<void> {
  try {
    await publish;
  } catch (error) {
    const code = (error as { code?: string }).code === 'KAFKA_QUEUE_FULL' ? ErrorCode.OVERLOADED : ErrorCode.DEPENDENCY_UNAVAILABLE;
    throw new DomainError(code, 'The request could not be queued; nothing changed. Retry it.', { retryAfterS: 1, cause: error });
  }
}
