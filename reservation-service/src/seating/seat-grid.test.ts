import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  SEAT_FREE,
  SEAT_RESERVED,
  SEAT_SOLD,
  cloneSeatGrid,
  createSeatGrid,
  isFree,
  rowsMax,
  seatIndex,
  seatsPerRowMax,
  setSeatState,
} from './seat-grid.ts';
import type { SeatGrid } from './seat-grid.ts';

function assertCountsMatchStates(grid: SeatGrid): void {
  const rowFree = new Uint32Array(grid.rows);
  grid.states.forEach((state, index) => {
    if (state === SEAT_FREE) rowFree[Math.floor(index / grid.seatsPerRow)]!++;
  });
  assert.deepEqual(grid.rowFree, rowFree);
  assert.equal(grid.free, rowFree.reduce((sum, count) => sum + count, 0));
}

describe('createSeatGrid', () => {
  it('starts all free without states', () => {
    const grid = createSeatGrid(3, 4);
    assert.equal(grid.states.length, 12);
    assert.deepEqual([...grid.rowFree], [4, 4, 4]);
    assert.equal(grid.free, 12);
  });

  it('counts free seats per row from the given states, and copies them', () => {
    const states = Uint8Array.from([SEAT_SOLD, SEAT_FREE, SEAT_RESERVED, SEAT_FREE, SEAT_FREE, SEAT_FREE]);
    const grid = createSeatGrid(2, 3, states);
    assert.deepEqual([...grid.rowFree], [1, 3]);
    assert.equal(grid.free, 4);
    states[1] = SEAT_SOLD;
    assert.equal(isFree(grid, 1), true);
  });

  it('asserts on bad dimensions and states', () => {
    assert.throws(() => createSeatGrid(0, 5), assert.AssertionError);
    assert.throws(() => createSeatGrid(5, 0), assert.AssertionError);
    assert.throws(() => createSeatGrid(1.5, 5), assert.AssertionError);
    assert.throws(() => createSeatGrid(rowsMax + 1, 1), assert.AssertionError);
    assert.throws(() => createSeatGrid(1, seatsPerRowMax + 1), assert.AssertionError);
    assert.throws(() => createSeatGrid(2, 2, new Uint8Array(3)), assert.AssertionError);
    assert.throws(() => createSeatGrid(1, 2, Uint8Array.from([0, 3])), assert.AssertionError);
  });
});

describe('setSeatState', () => {
  it('keeps rowFree and free right under set, overwrite and reset', () => {
    const grid = createSeatGrid(2, 3);
    setSeatState(grid, 4, SEAT_RESERVED);
    assert.deepEqual([...grid.rowFree], [3, 2]);
    setSeatState(grid, 4, SEAT_SOLD);
    assert.deepEqual([...grid.rowFree], [3, 2]);
    setSeatState(grid, 0, SEAT_FREE);
    assert.deepEqual([...grid.rowFree], [3, 2]);
    setSeatState(grid, 4, SEAT_FREE);
    assert.deepEqual([...grid.rowFree], [3, 3]);
    assert.equal(grid.free, 6);
  });

  it('agrees with a recount after many random changes', () => {
    const grid = createSeatGrid(5, 7);
    const states = [SEAT_FREE, SEAT_RESERVED, SEAT_SOLD] as const;
    let seed = 7;
    for (let step = 0; step < 500; step++) {
      seed = (seed * 48271) % 2147483647;
      setSeatState(grid, seed % 35, states[seed % 3]!);
      assertCountsMatchStates(grid);
    }
  });

  it('asserts on an index out of range or an unknown state', () => {
    const grid = createSeatGrid(2, 3);
    assert.throws(() => setSeatState(grid, -1, SEAT_SOLD), assert.AssertionError);
    assert.throws(() => setSeatState(grid, 6, SEAT_SOLD), assert.AssertionError);
    assert.throws(() => setSeatState(grid, 0.5, SEAT_SOLD), assert.AssertionError);
    // @ts-expect-error 3 is not a seat state
    assert.throws(() => setSeatState(grid, 0, 3), assert.AssertionError);
    assert.throws(() => isFree(grid, 6), assert.AssertionError);
    assert.equal(grid.free, 6);
  });
});

describe('cloneSeatGrid', () => {
  it('copies, so changing the clone leaves the original alone', () => {
    const grid = createSeatGrid(2, 2);
    const clone = cloneSeatGrid(grid);
    setSeatState(clone, 3, SEAT_SOLD);
    assert.equal(isFree(grid, 3), true);
    assert.equal(grid.free, 4);
    assert.deepEqual([...grid.rowFree], [2, 2]);
    assert.equal(clone.free, 3);
  });
});

describe('seatIndex', () => {
  it('maps 1-based row and seat to (row - 1) × seatsPerRow + (seat - 1)', () => {
    const grid = createSeatGrid(3, 4);
    assert.equal(seatIndex(grid, 1, 1), 0);
    assert.equal(seatIndex(grid, 2, 3), 6);
    assert.equal(seatIndex(grid, 3, 4), 11);
    assert.throws(() => seatIndex(grid, 0, 1), assert.AssertionError);
    assert.throws(() => seatIndex(grid, 1, 5), assert.AssertionError);
  });
});
