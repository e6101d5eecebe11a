import { Redis, type ChainableCommander } from 'ioredis';
import type { Logger } from '../telemetry/logger.ts';

export type { Redis };

// The projection's writes are fenced by the version Postgres gave the state they reflect
// (subsections.projection_version for seats, the booking's version for records): a write older
// than what Redis holds is refused, so a stalled process that resumes after its partition moved
// on cannot roll the projection back.
//
// Seat changes: KEYS = bitmap, its version; ARGV = version, then seat/state pairs. The changes
// are the difference between versions (version - 1) and (version), so they apply only on top of
// exactly version - 1:
//   0  the bitmap vanished (Redis restarted without its data): rebuild it whole from Postgres,
//      never recreate it from a slice's changes;
//   1  applied;
//   2  stale: Redis already reflects this version or a later one (a zombie's late write);
//   3  a gap: an earlier slice's changes never arrived (they were refused, or lost with a
//      crash): rebuild it whole from Postgres.
const applySeatChanges = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local held = tonumber(redis.call('GET', KEYS[2]) or '-1')
local version = tonumber(ARGV[1])
if held >= version then return 2 end
if held ~= version - 1 then return 3 end
for i = 2, #ARGV, 2 do
  redis.call('BITFIELD', KEYS[1], 'SET', 'u2', '#' .. ARGV[i], ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[1])
return 1
`;

// A whole bitmap from Postgres: KEYS = bitmap, its version; ARGV = version, bytes.
const replaceSeats = `
local held = tonumber(redis.call('GET', KEYS[2]) or '-1')
if held > tonumber(ARGV[1]) then return 2 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
return 1
`;

// A booking record: KEYS = record; ARGV = version, JSON, TTL seconds. The JSON is ours, with a
// numeric "version" field.
const putRecord = `
local old = redis.call('GET', KEYS[1])
if old then
  local held = tonumber(string.match(old, '"version":(%d+)') or '-1')
  if held > tonumber(ARGV[1]) then return 2 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`;

// Compare-and-delete: removes a key only if it still holds the value this caller wrote.
const deleteIfEquals = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface SeatScripts {
  applySeatChanges(key: string, versionKey: string, version: number, ...indexAndState: Array<string | number>): Promise<number>;
  replaceSeats(key: string, versionKey: string, version: number, bitmap: Buffer): Promise<number>;
  putRecord(key: string, version: number, json: string, ttlS: number): Promise<number>;
  deleteIfEquals(key: string, value: string): Promise<number>;
}

export type TicketingRedis = Redis & SeatScripts;

export type TicketingPipeline = ChainableCommander & {
  applySeatChanges(key: string, versionKey: string, version: number, ...indexAndState: Array<string | number>): TicketingPipeline;
  replaceSeats(key: string, versionKey: string, version: number, bitmap: Buffer): TicketingPipeline;
  putRecord(key: string, version: number, json: string, ttlS: number): TicketingPipeline;
};

// ioredis adds defined commands to pipelines at run time; this gives them their type.
export function pipelineOf(redis: TicketingRedis): TicketingPipeline {
  return redis.pipeline() as TicketingPipeline;
}

// RESP2 keeps reply shapes identical between Redis and Kvrocks (ioredis 6 defaults to RESP3).
// Auto-pipelining merges commands issued in the same tick into one write: the accept path
// issues one command per request, so this is what batches them.
export function createRedis(url: string, options: { name: string; logger: Logger; password?: string | undefined; autoPipelining?: boolean }): TicketingRedis {
  const redis = new Redis(url, {
    connectionName: options.name,
    ...(options.password === undefined ? {} : { password: options.password }),
    protocol: 2,
    enableAutoPipelining: options.autoPipelining ?? true,
    maxRetriesPerRequest: 2,
  }) as TicketingRedis;
  redis.defineCommand('applySeatChanges', { numberOfKeys: 2, lua: applySeatChanges });
  redis.defineCommand('replaceSeats', { numberOfKeys: 2, lua: replaceSeats });
  redis.defineCommand('putRecord', { numberOfKeys: 1, lua: putRecord });
  redis.defineCommand('deleteIfEquals', { numberOfKeys: 1, lua: deleteIfEquals });
  logConnectionErrors(redis, options.logger, options.name);
  return redis;
}

// Subscriber connections can only (P)SUBSCRIBE in RESP2, so they are separate clients.
export function createSubscriber(url: string, options: { name: string; logger: Logger; password?: string | undefined }): Redis {
  const redis = new Redis(url, {
    connectionName: options.name,
    protocol: 2,
    maxRetriesPerRequest: null,
    ...(options.password === undefined ? {} : { password: options.password }),
  });
  logConnectionErrors(redis, options.logger, options.name);
  return redis;
}

// ioredis reconnects by itself; log each outage once rather than every retry.
function logConnectionErrors(redis: Redis, logger: Logger, name: string): void {
  let down = false;
  redis.on('error', (error: Error) => {
    if (!down) logger.warn({ err: error, connection: name }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ connection: name }, 'redis connection restored');
    down = false;
  });
}
