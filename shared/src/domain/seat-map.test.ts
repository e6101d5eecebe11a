import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bitmapBytes, decodeBitmap, encodeBitmap, readSeatState, renderRowStates, seatIndex, seatPosition, SeatState } from './seat-map.ts';

test('seat index and position are inverse', () => {
  const shape = { rows: 3, seatsPerRow: 7 };
  for (let index = 0; index < 21; index++) {
    const { row, seat } = seatPosition(shape, index);
    assert.equal(seatIndex(shape, row, seat), index);
  }
  assert.deepEqual(seatPosition(shape, 7), { row: 2, seat: 1 });
  assert.throws(() => seatIndex(shape, 4, 1));
  assert.throws(() => seatPosition(shape, 21));
});

test('bitmaps round-trip two bits per seat, most significant bits first', () => {
  const states = Uint8Array.from([0, 1, 2, 0, 2, 2, 1]);
  const bitmap = encodeBitmap(states);
  assert.equal(bitmap.length, bitmapBytes(7));
  // seat 0..3 in byte 0: 00 01 10 00
  assert.equal(bitmap[0], 0b00011000);
  assert.deepEqual(decodeBitmap(bitmap, 7), states);
  // A short bitmap (Redis only stores up to the highest written byte) reads as free beyond it.
  assert.equal(readSeatState(Buffer.alloc(0), 5), SeatState.FREE);
});

test('row states render one character per seat', () => {
  assert.deepEqual(renderRowStates({ rows: 2, seatsPerRow: 3 }, Uint8Array.from([0, 1, 2, 2, 0, 1])), ['.RS', 'S.R']);
});
