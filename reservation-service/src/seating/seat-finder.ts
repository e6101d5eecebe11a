// Best-available seat selection; the rules for API users are in docs/seat-selection.md.
// The chosen set S of `quantity` free seats minimises, compared in this order:
//   1. blocks  — maximal groups of seats of S side by side in one row
//   2. maxRow  — the largest row number used (row 1 is closest to the stage)
//   3. orphans — free seats left with no free neighbour in their row, whole grid
//   4. centre  — Σ over blocks of |2a + l − n|, half-seats from the row's centre
//   5. the ascending index list, lexicographically smallest
// A free run is a maximal stretch of free seats in one row. A seat's orphan status
// depends only on its own run, so orphans and centre add up over the runs S is cut
// from; that is what lets both paths below be exact without enumerating subsets.

import assert from 'node:assert';
import { SEAT_FREE } from './seat-grid.ts';
import type { SeatGrid } from './seat-grid.ts';

// The DP in findSeveralBlocks is sized by quantity² per candidate run.
export const quantityMax = 10;

export type FindBestResult = { ok: true; seats: number[] } | { ok: false; reason: 'SOLD_OUT' };
export type ManualSeatsResult = { ok: true; seats: number[] } | { ok: false; reason: 'SEATS_UNAVAILABLE' };

type Run = { first: number; length: number };

// orphans is the change in the grid's orphan count when the block is taken.
type Placement = { start: number; orphans: number; centre: number };

type Block = { start: number; length: number; previous: Block | undefined };
type Choice = { orphans: number; centre: number; last: Block | undefined };
type State = { used: number; seats: number; choice: Choice };
type RankedRun = { run: Run; placement: Placement };

export function findBestAvailable(grid: SeatGrid, quantity: number): FindBestResult {
  assert(
    Number.isInteger(quantity) && quantity >= 1 && quantity <= quantityMax,
    `quantity out of range: ${quantity}`,
  );
  if (grid.free < quantity) return { ok: false, reason: 'SOLD_OUT' };
  const seats = findSingleBlock(grid, quantity) ?? findSeveralBlocks(grid, quantity);
  assert(seats.length === quantity, 'the finder must return exactly quantity seats');
  return { ok: true, seats };
}

export function checkManualSeats(grid: SeatGrid, indexes: readonly number[]): ManualSeatsResult {
  assert(indexes.length >= 1, 'at least one seat must be requested');
  assert(new Set(indexes).size === indexes.length, 'requested seats must be distinct');
  for (const index of indexes) {
    assert(Number.isInteger(index) && index >= 0 && index < grid.states.length, `seat out of range: ${index}`);
  }
  if (indexes.some((index) => grid.states[index] !== SEAT_FREE)) {
    return { ok: false, reason: 'SEATS_UNAVAILABLE' };
  }
  return { ok: true, seats: indexes.toSorted((a, b) => a - b) };
}

// blocks = 1: the first row with a long enough run fixes maxRow; pick within it.
function findSingleBlock(grid: SeatGrid, quantity: number): number[] | undefined {
  for (let row = 0; row < grid.rows; row++) {
    if (grid.rowFree[row]! < quantity) continue;
    let best: Placement | undefined;
    for (const run of rowRuns(grid, row)) {
      if (run.length < quantity) continue;
      const candidate = bestPlacement(run, quantity, grid.seatsPerRow);
      if (best === undefined || comparePlacements(candidate, best) < 0) best = candidate;
    }
    if (best !== undefined) return blockSeats(best.start, quantity);
  }
  return undefined;
}

// Every run is shorter than quantity here. With the fewest blocks k, no two blocks
// share a run (two blocks in one run would leave k − 1 runs holding quantity), so
// S is one block from each of k distinct runs.
function findSeveralBlocks(grid: SeatGrid, quantity: number): number[] {
  const runs = gridRuns(grid);
  const blocks = blocksMin(runs, quantity);
  const rowLast = rowLastNeeded(runs, grid.seatsPerRow, blocks, quantity);
  const pool = candidateRuns(runs, grid.seatsPerRow, rowLast, blocks, quantity);
  const best = cheapestChoice(pool, grid.seatsPerRow, rowLast, blocks, quantity);
  return choiceSeats(best.last);
}

function blocksMin(runs: readonly Run[], quantity: number): number {
  const counts = lengthCounts(quantity);
  for (const run of runs) addRun(counts, run);
  for (let blocks = 2; blocks <= quantity; blocks++) {
    if (longestSum(counts, blocks) >= quantity) return blocks;
  }
  assert.fail('free >= quantity, so quantity runs of length >= 1 must suffice');
}

// The smallest (0-based) row r such that runs in rows <= r can hold the blocks.
function rowLastNeeded(runs: readonly Run[], seatsPerRow: number, blocks: number, quantity: number): number {
  const counts = lengthCounts(quantity);
  for (const run of runs) {
    addRun(counts, run);
    if (longestSum(counts, blocks) >= quantity) return rowOf(run.first, seatsPerRow);
  }
  assert.fail('blocksMin found enough runs, so some row must complete them');
}

// counts[l] is the number of runs of length l; every run is shorter than quantity.
function lengthCounts(quantity: number): number[] {
  return new Array<number>(quantity).fill(0);
}

function addRun(counts: number[], run: Run): void {
  assert(run.length >= 1 && run.length < counts.length, 'a run that fits quantity belongs to findSingleBlock');
  counts[run.length] = counts[run.length]! + 1;
}

function longestSum(counts: readonly number[], blocks: number): number {
  let sum = 0;
  let left = blocks;
  for (let length = counts.length - 1; length >= 1 && left > 0; length--) {
    const taken = Math.min(left, counts[length]!);
    sum += taken * length;
    left -= taken;
  }
  return sum;
}

// An optimum only uses, for each block length l, runs among the `blocks` best for l:
// one of those is always unused, and swapping it in never makes S worse (rule 5
// included, as it ranks by start and runs are disjoint). So at most
// (quantity − 1) × blocks runs reach the DP, however fragmented the grid is.
function candidateRuns(
  runs: readonly Run[],
  seatsPerRow: number,
  rowLast: number,
  blocks: number,
  quantity: number,
): Run[] {
  const bestByLength = Array.from({ length: quantity }, (): RankedRun[] => []);
  for (const run of runs) {
    if (rowOf(run.first, seatsPerRow) > rowLast) break;
    const placements = runPlacements(run, seatsPerRow);
    for (let length = 1; length <= run.length; length++) {
      keepBest(bestByLength[length]!, { run, placement: placements[length]! }, blocks);
    }
  }
  const pool = new Set(bestByLength.flat().map((entry) => entry.run));
  return [...pool].sort((a, b) => a.first - b.first);
}

function keepBest(best: RankedRun[], entry: RankedRun, size: number): void {
  const at = best.findIndex((kept) => comparePlacements(entry.placement, kept.placement) < 0);
  best.splice(at === -1 ? best.length : at, 0, entry);
  if (best.length > size) best.pop();
}

// DP over the pool in index order; state: blocks used, seats used. Rules 3–4 add up
// per run; for rule 5 a prefix of the index list is compared only with prefixes of
// the same length, so the best prefix per state extends to the best whole list.
// Rule 2 needs no state: rows before rowLast cannot hold the blocks, so every
// complete choice uses rowLast.
function cheapestChoice(
  pool: readonly Run[],
  seatsPerRow: number,
  rowLast: number,
  blocks: number,
  quantity: number,
): Choice {
  const empty: State = { used: 0, seats: 0, choice: { orphans: 0, centre: 0, last: undefined } };
  let states = new Map([[stateKey(empty), empty]]);
  for (const run of pool) {
    const placements = runPlacements(run, seatsPerRow);
    const next = new Map(states);
    for (const state of states.values()) {
      if (state.used === blocks) continue;
      for (let length = 1; length <= Math.min(run.length, quantity - state.seats); length++) {
        keepCheaper(next, {
          used: state.used + 1,
          seats: state.seats + length,
          choice: extend(state.choice, placements[length]!, length),
        });
      }
    }
    states = next;
  }
  const best = states.get(stateKey({ used: blocks, seats: quantity }));
  assert(best?.choice.last !== undefined, 'rowLastNeeded guarantees a complete choice');
  assert(rowOf(best.choice.last.start, seatsPerRow) === rowLast, 'a complete choice uses rowLast');
  return best.choice;
}

function stateKey(state: Pick<State, 'used' | 'seats'>): number {
  return state.used * (quantityMax + 1) + state.seats;
}

function keepCheaper(states: Map<number, State>, state: State): void {
  const key = stateKey(state);
  const kept = states.get(key);
  if (kept === undefined || compareChoices(state.choice, kept.choice) < 0) states.set(key, state);
}

function extend(choice: Choice, placement: Placement, length: number): Choice {
  return {
    orphans: choice.orphans + placement.orphans,
    centre: choice.centre + placement.centre,
    last: { start: placement.start, length, previous: choice.last },
  };
}

function compareChoices(a: Choice, b: Choice): number {
  return a.orphans - b.orphans || a.centre - b.centre || compareIndexLists(choiceSeats(a.last), choiceSeats(b.last));
}

function compareIndexLists(a: readonly number[], b: readonly number[]): number {
  assert(a.length === b.length, 'only lists of equal length are compared');
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return 0;
}

// Blocks are chained last-first, in ascending run order.
function choiceSeats(last: Block | undefined): number[] {
  const seats: number[] = [];
  for (let block = last; block !== undefined; block = block.previous) {
    seats.unshift(...blockSeats(block.start, block.length));
  }
  return seats;
}

// Indexed by block length; index 0 is unused.
function runPlacements(run: Run, seatsPerRow: number): Placement[] {
  const placements: Placement[] = [];
  for (let length = 1; length <= run.length; length++) placements[length] = bestPlacement(run, length, seatsPerRow);
  return placements;
}

function bestPlacement(run: Run, length: number, seatsPerRow: number): Placement {
  assert(length >= 1 && length <= run.length, 'the block must fit the run');
  let best = placementAt(run, run.first, length, seatsPerRow);
  for (let start = run.first + 1; start + length <= run.first + run.length; start++) {
    const candidate = placementAt(run, start, length, seatsPerRow);
    if (comparePlacements(candidate, best) < 0) best = candidate;
  }
  return best;
}

// Cutting a block out of a run leaves a left and a right part, each an orphan if it
// is one seat long. A run one seat long was an orphan itself, and taking it is
// rewarded; findSingleBlock meets one only when quantity is 1.
function placementAt(run: Run, start: number, length: number, seatsPerRow: number): Placement {
  const left = start - run.first;
  const right = run.first + run.length - (start + length);
  assert(left >= 0 && right >= 0, 'the block must lie inside the run');
  const seat = start % seatsPerRow;
  return {
    start,
    orphans: isOrphan(left) + isOrphan(right) - isOrphan(run.length),
    centre: Math.abs(2 * seat + length - seatsPerRow),
  };
}

function isOrphan(runLength: number): number {
  return runLength === 1 ? 1 : 0;
}

function comparePlacements(a: Placement, b: Placement): number {
  return a.orphans - b.orphans || a.centre - b.centre || a.start - b.start;
}

function gridRuns(grid: SeatGrid): Run[] {
  const runs: Run[] = [];
  for (let row = 0; row < grid.rows; row++) {
    if (grid.rowFree[row] !== 0) runs.push(...rowRuns(grid, row));
  }
  return runs;
}

function rowRuns(grid: SeatGrid, row: number): Run[] {
  const runs: Run[] = [];
  const end = (row + 1) * grid.seatsPerRow;
  let index = row * grid.seatsPerRow;
  while (index < end) {
    if (grid.states[index] !== SEAT_FREE) {
      index++;
      continue;
    }
    const first = index;
    while (index < end && grid.states[index] === SEAT_FREE) index++;
    runs.push({ first, length: index - first });
  }
  return runs;
}

function blockSeats(start: number, length: number): number[] {
  return Array.from({ length }, (_, offset) => start + offset);
}

function rowOf(index: number, seatsPerRow: number): number {
  return Math.floor(index / seatsPerRow);
}
