import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { decodeBitmap, encodeBitmap } from '../src/domain/seat-map.ts';
import { createRedis } from '../src/redis/client.ts';
import { createLogger } from '../src/telemetry/logger.ts';

// The seat-map encoding must be exactly what Redis BITFIELD u2 reads and writes, or the
// projection and its readers would disagree. Checked against a real server.

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test:bitfield:${randomBytes(4).toString('hex')}:`;
const plain = new Redis(redisUrl, { protocol: 2 });
const redis = createRedis(redisUrl, { name: 'test', logger: createLogger({ name: 'test', level: 'silent' }) });

after(async () => {
  const keys = await plain.keys(`${prefix}*`);
  if (keys.length) await plain.del(...keys);
  plain.disconnect();
  redis.disconnect();
});

test('encodeBitmap equals what BITFIELD SET u2 writes, and decodeBitmap reads it back', async () => {
  const states = Uint8Array.from({ length: 37 }, (_, index) => (index * 7) % 3);
  const key = `${prefix}seats`;
  const args: Array<string | number> = [];
  states.forEach((state, index) => args.push('SET', 'u2', `#${index}`, state));
  await plain.call('BITFIELD', key, ...args);
  const stored = (await plain.getBuffer(key))!;
  assert.deepEqual(stored.subarray(0, encodeBitmap(states).length), encodeBitmap(states));
  assert.deepEqual(decodeBitmap(stored, states.length), states);
});

test('applySeatChanges refuses a missing bitmap, updates an existing one, and refuses an older version', async () => {
  const key = `${prefix}applied`;
  const versionKey = `${key}:v`;
  assert.equal(await redis.applySeatChanges(key, versionKey, 1, 3, 1), 0);
  assert.equal(await plain.exists(key), 0, 'nothing was created from a partial change set');
  await plain.set(key, encodeBitmap(new Uint8Array(10)));
  await plain.set(versionKey, '4');
  // Version 6 on top of 4: the changes of version 5 are missing, so nothing is applied.
  assert.equal(await redis.applySeatChanges(key, versionKey, 6, 3, 1), 3);
  assert.equal(await redis.applySeatChanges(key, versionKey, 5, 3, 1, 9, 2), 1);
  assert.deepEqual([...decodeBitmap((await plain.getBuffer(key))!, 10)], [0, 0, 0, 1, 0, 0, 0, 0, 0, 2]);
  // A slice decided before version 5 (a stalled process resuming) cannot roll seats back,
  // and version 5 again is a replay that changes nothing.
  assert.equal(await redis.applySeatChanges(key, versionKey, 4, 3, 0), 2);
  assert.equal(await redis.applySeatChanges(key, versionKey, 5, 3, 0), 2);
  assert.equal(decodeBitmap((await plain.getBuffer(key))!, 10)[3], 1);
  assert.equal(await redis.replaceSeats(key, versionKey, 3, encodeBitmap(new Uint8Array(10))), 2);
  assert.equal(await redis.replaceSeats(key, versionKey, 6, encodeBitmap(Uint8Array.from([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]))), 1);
  assert.deepEqual([decodeBitmap((await plain.getBuffer(key))!, 10)[0], await plain.get(versionKey)], [2, '6']);
});

test('putRecord keeps the newest version of a booking record', async () => {
  const key = `${prefix}record-versioned`;
  assert.equal(await redis.putRecord(key, 2, JSON.stringify({ id: 'b', status: 'PAID', version: 2 }), 60), 1);
  assert.equal(await redis.putRecord(key, 1, JSON.stringify({ id: 'b', status: 'RESERVED', version: 1 }), 60), 2);
  assert.equal(JSON.parse((await plain.get(key))!).status, 'PAID');
  assert.equal(await redis.putRecord(key, 2, JSON.stringify({ id: 'b', status: 'PAID', version: 2 }), 60), 1, 'the same version again is a harmless replay');
});

test('deleteIfEquals removes only the value the caller wrote', async () => {
  const key = `${prefix}record`;
  await plain.set(key, 'mine');
  assert.equal(await redis.deleteIfEquals(key, 'theirs'), 0);
  assert.equal(await plain.get(key), 'mine');
  assert.equal(await redis.deleteIfEquals(key, 'mine'), 1);
  assert.equal(await plain.exists(key), 0);
});
