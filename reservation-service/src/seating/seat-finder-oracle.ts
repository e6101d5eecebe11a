// Test oracle for seat-finder.ts: every subset of free seats, each costed straight
// from the definition in docs/seat-selection.md. Written without the finder's
// helpers so that a shared mistake cannot make both agree.

import assert from 'node:assert';
import { SEAT_FREE } from './seat-grid.ts';
import type { SeatGrid } from './seat-grid.ts';

// C(30, 4) = 27,405 subsets is the most one call enumerates in the property test.
export const oracleSeatsMax = 30;

export type SeatSetCost = { blocks: number; maxRow: number; orphans: number; centre: number };

export function costOf(grid: SeatGrid, seats: readonly number[]): SeatSetCost {
  const taken = new Set(seats);
  assert(taken.size === seats.length, 'seats must be distinct');
  for (const seat of seats) assert(grid.states[seat] === SEAT_FREE, `seat ${seat} is not free`);
  const n = grid.seatsPerRow;
  const freeAfter = (index: number) => grid.states[index] === SEAT_FREE && !taken.has(index);
  let blocks = 0;
  let maxRow = 0;
  let centre = 0;
  for (const seat of seats) {
    const column = seat % n;
    maxRow = Math.max(maxRow, Math.floor(seat / n) + 1);
    if (column > 0 && taken.has(seat - 1)) continue;
    let length = 1;
    while (column + length < n && taken.has(seat + length)) length++;
    blocks++;
    centre += Math.abs(2 * column + length - n);
  }
  let orphans = 0;
  for (let index = 0; index < grid.states.length; index++) {
    const column = index % n;
    const leftTaken = column === 0 || !freeAfter(index - 1);
    const rightTaken = column === n - 1 || !freeAfter(index + 1);
    if (freeAfter(index) && leftTaken && rightTaken) orphans++;
  }
  return { blocks, maxRow, orphans, centre };
}

export function bruteForceBest(
  grid: SeatGrid,
  quantity: number,
): { seats: number[]; cost: SeatSetCost } | undefined {
  assert(grid.states.length <= oracleSeatsMax, 'the oracle is exponential: small grids only');
  const free: number[] = [];
  grid.states.forEach((state, index) => {
    if (state === SEAT_FREE) free.push(index);
  });
  let best: { seats: number[]; cost: SeatSetCost } | undefined;
  // Subsets come in lexicographic order, so keeping the first minimum applies rule 5.
  for (const seats of subsets(free, quantity)) {
    const cost = costOf(grid, seats);
    if (best === undefined || isCheaper(cost, best.cost)) best = { seats, cost };
  }
  return best;
}

function isCheaper(a: SeatSetCost, b: SeatSetCost): boolean {
  const order = ['blocks', 'maxRow', 'orphans', 'centre'] as const;
  for (const key of order) {
    if (a[key] !== b[key]) return a[key] < b[key];
  }
  return false;
}

function* subsets(items: readonly number[], size: number, from = 0): Generator<number[]> {
  if (size === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= items.length - size; i++) {
    for (const rest of subsets(items, size - 1, i + 1)) yield [items[i]!, ...rest];
  }
}
