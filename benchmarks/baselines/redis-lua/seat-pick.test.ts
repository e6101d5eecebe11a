import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { createPrng } from '../../../dev/testing/prng.ts';
import { findBestAvailable } from '../../../reservation-service/src/seating/seat-finder.ts';
import { createSeatGrid, SEAT_FREE, SEAT_RESERVED } from '../../../reservation-service/src/seating/seat-grid.ts';
import { defineSeatScripts, parseRecord, type SeatRedis } from './seat-script.ts';

// The redis-lua baseline must pick the same seats as the product, or the comparison is not
// like for like: its Lua port of best available is run against the product's finder on
// random grids (fill levels from empty to nearly full, so both the one-block and the split
// paths are exercised) on the local Redis, under a private key prefix.

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench:lua-test:${process.pid}:`;
const cases = 3000;
let redis: SeatRedis;

before(() => {
  redis = defineSeatScripts(new Redis(redisUrl, { protocol: 2 }));
});

after(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

test('the Lua seat pick chooses exactly the seats the product finder chooses', async () => {
  const random = createPrng(20_260_701).next;
  let split = 0;
  for (let index = 0; index < cases; index++) {
    const rows = 1 + Math.floor(random() * 6);
    const seatsPerRow = 1 + Math.floor(random() * 14);
    const fill = random();
    const states = new Uint8Array(rows * seatsPerRow).map(() => (random() < fill ? SEAT_RESERVED : SEAT_FREE));
    const quantity = 1 + Math.floor(random() * 4);
    const expected = findBestAvailable(createSeatGrid(rows, seatsPerRow, states), quantity);
    const seatsKey = `${prefix}seats:${index}`;
    await redis.set(seatsKey, Array.from(states, (state) => (state === SEAT_FREE ? '.' : 'R')).join(''));
    const [kind, record] = await redis.seatPick(seatsKey, `${prefix}booking:${index}`, rows, seatsPerRow, quantity, '', 'user|fp|1|2', 60);
    assert.equal(kind, 'decided');
    const picked = parseRecord(record);
    const grid = `${rows}×${seatsPerRow} q=${quantity} ${Array.from(states).join('')}`;
    if (expected.ok) {
      assert.equal(picked.status, 'RESERVED', grid);
      assert.deepEqual(picked.seats, expected.seats, grid);
      if (expected.seats.some((seat, at) => at > 0 && seat !== expected.seats[at - 1]! + 1)) split++;
      const after = await redis.get(seatsKey);
      for (const seat of expected.seats) assert.equal(after![seat], 'R', `seat ${seat} is marked taken`);
    } else {
      assert.equal(picked.status, 'REJECTED', grid);
      assert.equal(picked.reason, 'SOLD_OUT', grid);
    }
  }
  assert.ok(split > 100, `the split path was exercised (${split} cases)`);
});

test('a booking id already used is answered from its record and changes nothing', async () => {
  const seatsKey = `${prefix}seats:idempotent`;
  await redis.set(seatsKey, '....');
  const first = await redis.seatPick(seatsKey, `${prefix}booking:same`, 1, 4, 2, '', 'user|fp|1|2', 60);
  const again = await redis.seatPick(seatsKey, `${prefix}booking:same`, 1, 4, 2, '', 'user|fp|1|3', 60);
  assert.equal(first[0], 'decided');
  assert.deepEqual(again, ['existing', first[1]]);
  assert.equal(await redis.get(seatsKey), 'RR..', 'best available: no orphan, leftmost of the equally central');
});

test('manual picks are all or nothing, and a release frees exactly the seats it names', async () => {
  const seatsKey = `${prefix}seats:manual`;
  await redis.set(seatsKey, '..R.');
  const refused = parseRecord((await redis.seatPick(seatsKey, `${prefix}booking:m1`, 1, 4, 2, '1,2', 'u|f|1|2', 60))[1]);
  assert.equal(refused.reason, 'SEATS_UNAVAILABLE');
  assert.equal(await redis.get(seatsKey), '..R.');
  const [, record] = await redis.seatPick(seatsKey, `${prefix}booking:m2`, 1, 4, 2, '1,0', 'u|f|1|2', 60);
  assert.deepEqual(parseRecord(record).seats, [0, 1]);
  assert.equal(await redis.get(seatsKey), 'RRR.');
  assert.equal(await redis.seatRelease(seatsKey, `${prefix}booking:m2`, record, '0,1'), 1);
  assert.equal(await redis.get(seatsKey), '..R.');
  assert.equal(await redis.get(`${prefix}booking:m2`), null);
});
