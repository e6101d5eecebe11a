import assert from 'node:assert/strict';
import { test } from 'node:test';
import { v4, v7 } from 'uuid';
import { bookingFingerprint } from './fingerprint.ts';
import { canonicalUuid, isCanonicalUuid, isUuid, isUuidV7, uuidV7Time } from './ids.ts';
import { parseInstant } from './instant.ts';

test('only version-7 UUIDs are booking ids', () => {
  const id = v7();
  assert.ok(isUuidV7(id));
  assert.ok(isUuidV7(id.toUpperCase()));
  assert.ok(!isUuidV7(v4()));
  assert.ok(!isUuidV7(`${id}0`));
  assert.ok(!isUuidV7('01a2035c-cb9a-74db-1e30-19b650c80fae'), 'variant bits must be 10');
  assert.ok(isUuid(v4()) && !isUuid('zzz'));
});

test('an id in capitals is the same id, folded to lower case before it is stored or sent', () => {
  const id = v7();
  assert.equal(canonicalUuid(id.toUpperCase()), id);
  assert.equal(canonicalUuid(`urn:uuid:${id}`), null);
  assert.ok(isCanonicalUuid(id));
  assert.ok(!isCanonicalUuid(id.toUpperCase()));
});

test('instants: real calendar moments from 1970 to 9999 only', () => {
  assert.equal(parseInstant('2026-11-22T10:00:00+01:00'), Date.UTC(2026, 10, 22, 9));
  assert.equal(parseInstant('2024-02-29T00:00:00.123456Z'), Date.UTC(2024, 1, 29, 0, 0, 0, 123));
  for (const text of ['2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2016-12-31T23:59:60Z', '0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '1969-12-31T23:59:59Z', '10000-01-01T00:00:00Z', 'tomorrow']) {
    assert.equal(parseInstant(text), null, text);
  }
});

test('a UUIDv7 carries its creation time', () => {
  const before = Date.now();
  const time = uuidV7Time(v7());
  assert.ok(time >= before && time <= Date.now());
});

test('fingerprints treat picked seats as a set and everything else as significant', () => {
  const base = { userId: 'alice', eventId: 'e', section: 'A', subsection: 1, quantity: 2, seats: [4, 3] };
  assert.equal(bookingFingerprint(base), bookingFingerprint({ ...base, seats: [3, 4] }));
  for (const change of [{ userId: 'bob' }, { section: 'B' }, { subsection: 2 }, { quantity: 3 }, { seats: [3, 5] }]) {
    assert.notEqual(bookingFingerprint(base), bookingFingerprint({ ...base, ...change }), JSON.stringify(change));
  }
  const { seats: _seats, ...bestAvailable } = base;
  assert.notEqual(bookingFingerprint(base), bookingFingerprint(bestAvailable));
});
