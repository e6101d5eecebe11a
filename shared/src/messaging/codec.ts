import { isCanonicalUuid, isUuidV7 } from '../domain/ids.ts';
import { commandSchemaVersion, type Command } from './messages.ts';

export class UnknownSchemaVersionError extends Error {
  readonly code = 'UNKNOWN_SCHEMA_VERSION';
  // Retriable in the sense that a newer consumer will understand it: never skip it.
  readonly retriable = true;
}

export type DecodeResult = { readonly ok: true; readonly command: Command } | { readonly ok: false; readonly problem: string };

export function encodeCommand(command: Command): Buffer {
  return Buffer.from(JSON.stringify(command));
}

// The `message-type` header of a command, for tools that inspect the topic.
export function commandTypeHeader(command: Command): string {
  return `${command.type}.v${command.v}`;
}

const isInt = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
// Text is bound for Postgres, which cannot store U+0000.
const isText = (value: unknown, maxLength: number): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= maxLength && !value.includes('\u0000');

type Checks = Record<string, (value: unknown) => boolean>;

// Ids travel in canonical (lower-case) spelling only: the consumer keys its state by them.
const isId = (value: unknown) => typeof value === 'string' && isCanonicalUuid(value);
const isV7Id = (value: unknown) => isId(value) && isUuidV7(value as string);

const base: Checks = {
  eventId: isId,
  subsectionId: (value) => isInt(value, 1, 2 ** 31 - 1),
  section: (value) => isText(value, 128),
  subsection: (value) => isInt(value, 0, 2 ** 31 - 1),
  atMs: (value) => isInt(value, 0, Number.MAX_SAFE_INTEGER),
};
const booking: Checks = { ...base, bookingId: isV7Id };

const shapes: Record<Command['type'], Checks> = {
  reserve: {
    ...booking,
    userId: (value) => isText(value, 128),
    quantity: (value) => isInt(value, 1, 100),
    fingerprint: (value) => isText(value, 128),
  },
  cancel: { ...booking, by: (value) => value === 'buyer' || value === 'organizer' },
  expire: booking,
  pay: { ...booking, paymentId: isV7Id, paymentToken: (value) => isText(value, 512) },
  'payment-result': {
    ...booking,
    paymentId: isV7Id,
    outcome: (value) => value === 'captured' || value === 'declined',
  },
  'cancel-event': base,
};

// Checks the shape of a command coming off Kafka. A malformed command can only come from a
// bug or a foreign producer; the consumer records it as poison and moves on.
export function decodeCommand(value: Buffer | null): DecodeResult {
  if (value === null) return { ok: false, problem: 'empty message' };
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, problem: 'not an object' };
  const message = raw as Record<string, unknown>;
  if (typeof message.v !== 'number') return { ok: false, problem: 'missing schema version' };
  if (message.v > commandSchemaVersion) throw new UnknownSchemaVersionError(`command schema v${message.v} is newer than this consumer (v${commandSchemaVersion})`);
  const checks = typeof message.type === 'string' ? shapes[message.type as Command['type']] : undefined;
  if (!checks) return { ok: false, problem: `unknown command type ${String(message.type)}` };
  for (const [field, check] of Object.entries(checks)) {
    if (!check(message[field])) return { ok: false, problem: `${field} invalid` };
  }
  if (message.type === 'reserve' && message.seats !== undefined) {
    const seats = message.seats;
    if (!Array.isArray(seats) || seats.length !== message.quantity || !seats.every((seat) => isInt(seat, 0, 2 ** 31 - 1))) return { ok: false, problem: 'seats invalid' };
  }
  return { ok: true, command: message as unknown as Command };
}
