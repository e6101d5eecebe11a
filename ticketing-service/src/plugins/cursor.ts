import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { isUuid } from '@ticketing/shared/domain/ids';
import { parseInstant } from '@ticketing/shared/domain/instant';

// Opaque pagination cursors: base64url JSON of the last item's sort key. Clients pass them
// back unchanged; a cursor that does not decode is a 400, never a database error. The time
// keeps Postgres's microseconds (a millisecond cursor would skip rows created in the same
// millisecond as the page's last one).
export interface Cursor {
  readonly at: string;
  readonly id: string;
}

// What listing queries select as the cursor time of a row.
export const cursorTimeSql = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const cursorTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function encodeCursor(cursor: Cursor | null): string | null {
  return cursor === null ? null : Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

export function decodeCursor(text: string | undefined): Cursor | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && cursorTime.test(at) && parseInstant(at) !== null && typeof id === 'string' && isUuid(id)) return { at, id: id.toLowerCase() };
  } catch {
    // fall through
  }
  throw new DomainError(ErrorCode.INVALID_CURSOR, 'cursor is not one this API issued');
}
