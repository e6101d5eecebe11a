import assert from 'node:assert';
import { rowsPerSubsectionMax, seatsPerRowMax as domainSeatsPerRowMax } from '@ticketing/shared/domain/limits';
import { SeatState } from '@ticketing/shared/domain/seat-map';

// The seat states are the domain's (and the Redis bitmap's) values; the short names keep the
// finder readable.
export const SEAT_FREE = SeatState.FREE;
export const SEAT_RESERVED = SeatState.RESERVED;
export const SEAT_SOLD = SeatState.SOLD;
export type { SeatState };

// Grids are bounded by the domain's shape limits (1,000 × 1,000 seats is 1 MB of states).
export const rowsMax = rowsPerSubsectionMax;
export const seatsPerRowMax = domainSeatsPerRowMax;

// Plain data so it can be cloned, serialised and rebuilt from the Redis bitmap.
// Invariant: rowFree[r] counts the free seats of row r + 1, and free is their sum.
export type SeatGrid = {
  rows: number;
  seatsPerRow: number;
  states: Uint8Array;
  rowFree: Uint32Array;
  free: number;
};

// `states` is copied, so the caller's buffer and the grid never alias.
export function createSeatGrid(rows: number, seatsPerRow: number, states?: Uint8Array): SeatGrid {
  assert(Number.isInteger(rows) && rows >= 1 && rows <= rowsMax, `rows out of range: ${rows}`);
  assert(
    Number.isInteger(seatsPerRow) && seatsPerRow >= 1 && seatsPerRow <= seatsPerRowMax,
    `seatsPerRow out of range: ${seatsPerRow}`,
  );
  const size = rows * seatsPerRow;
  assert(states === undefined || states.length === size, 'states length must be rows × seatsPerRow');
  const grid: SeatGrid = {
    rows,
    seatsPerRow,
    states: states === undefined ? new Uint8Array(size) : Uint8Array.from(states),
    rowFree: new Uint32Array(rows),
    free: 0,
  };
  for (let index = 0; index < size; index++) {
    const state = grid.states[index]!;
    assert(state <= SEAT_SOLD, `unknown seat state ${state} at ${index}`);
    if (state === SEAT_FREE) countFree(grid, index, 1);
  }
  return grid;
}

export function setSeatState(grid: SeatGrid, index: number, state: SeatState): void {
  assertIndex(grid, index);
  assert(state === SEAT_FREE || state === SEAT_RESERVED || state === SEAT_SOLD, `unknown seat state ${state}`);
  const wasFree = grid.states[index] === SEAT_FREE;
  grid.states[index] = state;
  const isFreeNow = state === SEAT_FREE;
  if (wasFree !== isFreeNow) countFree(grid, index, isFreeNow ? 1 : -1);
}

export function isFree(grid: SeatGrid, index: number): boolean {
  assertIndex(grid, index);
  return grid.states[index] === SEAT_FREE;
}

export function cloneSeatGrid(grid: SeatGrid): SeatGrid {
  return {
    rows: grid.rows,
    seatsPerRow: grid.seatsPerRow,
    states: grid.states.slice(),
    rowFree: grid.rowFree.slice(),
    free: grid.free,
  };
}

// Row and seat are numbered from 1, as printed on the ticket.
export function seatIndex(grid: SeatGrid, row: number, seat: number): number {
  assert(Number.isInteger(row) && row >= 1 && row <= grid.rows, `row out of range: ${row}`);
  assert(Number.isInteger(seat) && seat >= 1 && seat <= grid.seatsPerRow, `seat out of range: ${seat}`);
  return (row - 1) * grid.seatsPerRow + (seat - 1);
}

function countFree(grid: SeatGrid, index: number, delta: 1 | -1): void {
  const row = Math.floor(index / grid.seatsPerRow);
  const rowFree = grid.rowFree[row]! + delta;
  assert(rowFree >= 0 && rowFree <= grid.seatsPerRow, 'rowFree out of range');
  grid.rowFree[row] = rowFree;
  grid.free += delta;
}

function assertIndex(grid: SeatGrid, index: number): void {
  assert(
    Number.isInteger(index) && index >= 0 && index < grid.states.length,
    `seat index out of range: ${index}`,
  );
}
