import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCommand, encodeCommand, UnknownSchemaVersionError } from './codec.ts';
import type { Command, ReserveCommand } from './messages.ts';

const command: ReserveCommand = {
  v: 1, type: 'reserve', bookingId: '019a9a5e-7c2b-7000-8000-000000000001', userId: 'alice', eventId: '019a9a5e-7c2b-7000-8000-0000000000ee',
  subsectionId: 7, section: 'A', subsection: 1, quantity: 2, seats: [3, 4], fingerprint: 'f', atMs: 1_800_000_000_000,
};

test('a command survives encode and decode', () => {
  assert.deepEqual(decodeCommand(encodeCommand(command)), { ok: true, command });
  const { seats: _seats, ...bestAvailable } = command;
  assert.deepEqual(decodeCommand(encodeCommand({ ...bestAvailable, quantity: 3 })), { ok: true, command: { ...bestAvailable, quantity: 3 } });
});

test('malformed commands are reported as problems, not thrown', () => {
  const bad: Array<[string, unknown]> = [
    ['not JSON', null],
    ['missing schema version', { ...command, v: undefined }],
    ['unknown command type', { ...command, type: 'refund' }],
    ['bookingId is not a UUIDv7', { ...command, bookingId: '9b2c5c8e-3f4a-4b7a-9c1d-2e3f4a5b6c7d' }],
    ['quantity invalid', { ...command, quantity: 0 }],
    ['seats invalid', { ...command, seats: [1] }],
    ['subsectionId invalid', { ...command, subsectionId: -1 }],
    // Spellings the consumer would not find its state under, and text Postgres cannot hold.
    ['bookingId in capitals', { ...command, bookingId: command.bookingId.toUpperCase() }],
    ['eventId in capitals', { ...command, eventId: command.eventId.toUpperCase() }],
    ['section holds NUL', { ...command, section: 'A\u0000' }],
  ];
  assert.deepEqual(decodeCommand(Buffer.from('{oops')), { ok: false, problem: 'not JSON' });
  assert.deepEqual(decodeCommand(null), { ok: false, problem: 'empty message' });
  for (const [problem, value] of bad.slice(1)) {
    const result = decodeCommand(Buffer.from(JSON.stringify(value)));
    assert.equal(result.ok, false, problem);
    if (!result.ok) assert.match(result.problem, new RegExp(problem.split(' ')[0]!), problem);
  }
});

test('every command type round-trips, and each is checked for its own fields', () => {
  const where = { v: 1 as const, eventId: command.eventId, subsectionId: 7, section: 'A', subsection: 1, atMs: 1 };
  const paymentId = '019a9a5e-7c2b-7000-8000-0000000000aa';
  const others: Command[] = [
    { ...where, type: 'cancel', bookingId: command.bookingId, by: 'organizer' },
    { ...where, type: 'expire', bookingId: command.bookingId },
    { ...where, type: 'pay', bookingId: command.bookingId, paymentId, paymentToken: 'tok' },
    { ...where, type: 'payment-result', bookingId: command.bookingId, paymentId, outcome: 'captured', providerRef: 'ch_1' },
    { ...where, type: 'cancel-event' },
  ];
  for (const other of others) assert.deepEqual(decodeCommand(encodeCommand(other)), { ok: true, command: other }, other.type);
  assert.equal(decodeCommand(Buffer.from(JSON.stringify({ ...others[0], by: 'mallory' }))).ok, false);
  assert.equal(decodeCommand(Buffer.from(JSON.stringify({ ...others[2], paymentToken: '' }))).ok, false);
  assert.equal(decodeCommand(Buffer.from(JSON.stringify({ ...others[3], outcome: 'maybe' }))).ok, false);
});

test('a newer schema version stops the consumer instead of being skipped', () => {
  assert.throws(() => decodeCommand(Buffer.from(JSON.stringify({ ...command, v: 2 }))), UnknownSchemaVersionError);
});
