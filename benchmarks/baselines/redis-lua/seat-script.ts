import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

// The Lua seat pick (seat-pick.lua) and its undo, loaded into ioredis as commands (EVALSHA
// with a fallback to EVAL), shared by the server and its differential test.

export const seatPickLua = readFileSync(new URL('./seat-pick.lua', import.meta.url), 'utf8');

// Undo a pick whose Postgres write failed: free its seats, forget the record. Only seats the
// record names are touched, and only if the record is still the one this caller wrote.
const seatReleaseLua = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
for seat in string.gmatch(ARGV[2], '%d+') do redis.call('SETRANGE', KEYS[1], tonumber(seat), '.') end
redis.call('DEL', KEYS[2])
return 1
`;

export type SeatRedis = Redis & {
  seatPick(seatsKey: string, bookingKey: string, rows: number, seatsPerRow: number, quantity: number, manual: string, tail: string, ttlS: number): Promise<[string, string]>;
  seatRelease(seatsKey: string, bookingKey: string, record: string, seats: string): Promise<number>;
};

export function defineSeatScripts(redis: Redis): SeatRedis {
  redis.defineCommand('seatPick', { numberOfKeys: 2, lua: seatPickLua });
  redis.defineCommand('seatRelease', { numberOfKeys: 2, lua: seatReleaseLua });
  return redis as SeatRedis;
}

export interface PickedRecord {
  readonly status: 'RESERVED' | 'REJECTED';
  readonly reason: string;
  readonly seats: number[];
  readonly userId: string;
  readonly fingerprint: string;
  readonly createdAtMs: number;
  readonly decidedAtMs: number;
}

export function parseRecord(record: string): PickedRecord {
  const [status, reason, seats, userId, fingerprint, createdAtMs, decidedAtMs] = record.split('|');
  return {
    status: status as PickedRecord['status'],
    reason: reason ?? '',
    seats: seats ? seats.split(',').map(Number) : [],
    userId: userId ?? '',
    fingerprint: fingerprint ?? '',
    createdAtMs: Number(createdAtMs),
    decidedAtMs: Number(decidedAtMs),
  };
}
