import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SEAT_FREE, SEAT_RESERVED, SEAT_SOLD, createSeatGrid, seatIndex, setSeatState } from './seat-grid.ts';
import type { SeatGrid } from './seat-grid.ts';
import { checkManualSeats, findBestAvailable } from './seat-finder.ts';
import { bruteForceBest, costOf } from './seat-finder-oracle.ts';
import { createPrng } from '../../../dev/testing/prng.ts';

// Rows drawn as in docs/seat-selection.md: '.' free, 'x' taken; the first string is row 1.
function gridFrom(drawing: readonly string[]): SeatGrid {
  const seatsPerRow = drawing[0]!.length;
  assert.ok(drawing.every((row) => row.length === seatsPerRow), 'rows must be equally long');
  const states = Uint8Array.from(drawing.join(''), (seat) => (seat === 'x' ? SEAT_SOLD : SEAT_FREE));
  return createSeatGrid(drawing.length, seatsPerRow, states);
}

function draw(grid: SeatGrid): string {
  const rows: string[] = [];
  for (let row = 0; row < grid.rows; row++) {
    const states = grid.states.subarray(row * grid.seatsPerRow, (row + 1) * grid.seatsPerRow);
    rows.push([...states].map((state) => (state === SEAT_FREE ? '.' : 'x')).join(''));
  }
  return rows.join('/');
}

// [row, seat] pairs, 1-based, to sorted indexes.
function seatsAt(grid: SeatGrid, ...seats: [number, number][]): number[] {
  return seats.map(([row, seat]) => seatIndex(grid, row, seat)).sort((a, b) => a - b);
}

function bestSeats(grid: SeatGrid, quantity: number): number[] {
  const result = findBestAvailable(grid, quantity);
  assert.ok(result.ok, `expected seats for ${quantity} in ${draw(grid)}`);
  return result.seats;
}

describe('findBestAvailable, one block', () => {
  it('centres a pair in row 1 of an empty grid', () => {
    const grid = createSeatGrid(3, 10);
    assert.deepEqual(bestSeats(grid, 2), seatsAt(grid, [1, 5], [1, 6]));
  });

  it('puts three on ten seats at 4–6: 4–6 and 5–7 are both half a seat off, and 4–6 is leftmost', () => {
    const grid = createSeatGrid(1, 10);
    assert.deepEqual(bestSeats(grid, 3), seatsAt(grid, [1, 4], [1, 5], [1, 6]));
  });

  it('gives a single the middle seat of row 1, or the left of the two middle ones', () => {
    const odd = createSeatGrid(2, 9);
    assert.deepEqual(bestSeats(odd, 1), seatsAt(odd, [1, 5]));
    const even = createSeatGrid(2, 10);
    assert.deepEqual(bestSeats(even, 1), seatsAt(even, [1, 5]));
  });

  it('moves to row 2 when row 1 is full', () => {
    const grid = gridFrom(['xxxxxxxxxx', '..........', '..........']);
    assert.deepEqual(bestSeats(grid, 2), seatsAt(grid, [2, 5], [2, 6]));
  });

  it('stays in the front row off-centre rather than move back to a perfect row', () => {
    const grid = gridFrom(['.xxxx.....', '..........']);
    assert.deepEqual(bestSeats(grid, 3), seatsAt(grid, [1, 6], [1, 7], [1, 8]));
  });

  it('avoids stranding a seat before it centres', () => {
    // Seats 5–6 are centred but leave seat 4 alone between the aisle and seat 3.
    const grid = gridFrom(['..x.......']);
    assert.deepEqual(bestSeats(grid, 2), seatsAt(grid, [1, 4], [1, 5]));
    assert.equal(costOf(grid, seatsAt(grid, [1, 5], [1, 6])).orphans, 1);
  });

  it('takes an already stranded seat for a single', () => {
    const grid = gridFrom(['.x........']);
    assert.deepEqual(bestSeats(grid, 1), seatsAt(grid, [1, 1]));
  });

  it('does not change the grid', () => {
    const grid = gridFrom(['x..x....', '........']);
    const before = draw(grid);
    bestSeats(grid, 3);
    assert.equal(draw(grid), before);
    assert.equal(grid.free, 14);
  });
});

describe('findBestAvailable, several blocks', () => {
  it('splits into two blocks when no row has three side by side', () => {
    const grid = gridFrom(['..xx..', 'xxxxxx']);
    // Both 2+1 splits strand one seat and are 7 half-seats off; rule 5 picks the left.
    assert.deepEqual(bestSeats(grid, 3), seatsAt(grid, [1, 1], [1, 2], [1, 5]));
  });

  it('prefers front rows over central seats', () => {
    const grid = gridFrom(['xxxxx', '.xxx.', 'x.x.x']);
    assert.deepEqual(bestSeats(grid, 2), seatsAt(grid, [2, 1], [2, 5]));
  });

  it('uses the fewest blocks even if that means a row further back', () => {
    const grid = gridFrom(['.x.x.', 'x..xx']);
    assert.deepEqual(bestSeats(grid, 3), seatsAt(grid, [1, 3], [2, 2], [2, 3]));
  });

  it('combines blocks across rows', () => {
    const grid = gridFrom(['x.xxx', 'xx.xx', 'xxx.x']);
    assert.deepEqual(bestSeats(grid, 2), seatsAt(grid, [1, 2], [2, 3]));
  });
});

describe('findBestAvailable, sellout', () => {
  it('answers SOLD_OUT when fewer seats are free than asked for', () => {
    assert.deepEqual(findBestAvailable(gridFrom(['x.', 'xx']), 2), { ok: false, reason: 'SOLD_OUT' });
    assert.deepEqual(findBestAvailable(gridFrom(['xx']), 1), { ok: false, reason: 'SOLD_OUT' });
  });

  it('sells the very last seats when exactly as many are free', () => {
    const grid = gridFrom(['.xx', 'xx.', 'x.x']);
    assert.deepEqual(bestSeats(grid, 3), seatsAt(grid, [1, 1], [2, 3], [3, 2]));
  });

  it('asserts on a quantity below 1 or not an integer', () => {
    const grid = createSeatGrid(1, 5);
    assert.throws(() => findBestAvailable(grid, 0), assert.AssertionError);
    assert.throws(() => findBestAvailable(grid, 1.5), assert.AssertionError);
  });
});

describe('findBestAvailable, 1,000 × 1,000 seats', () => {
  const size = 1000 * 1000;
  const rowsFull = (rows: number) => new Uint8Array(size).fill(SEAT_SOLD, 0, rows * 1000);

  it('skips 999 full rows and centres in the last', () => {
    const grid = createSeatGrid(1000, 1000, rowsFull(999));
    assert.deepEqual(bestSeats(grid, 4), seatsAt(grid, [1000, 499], [1000, 500], [1000, 501], [1000, 502]));
  });

  it('splits in a last row where every other seat is taken', () => {
    const states = rowsFull(999);
    for (let seat = 1; seat < 1000; seat += 2) states[999_000 + seat] = SEAT_SOLD;
    const grid = createSeatGrid(1000, 1000, states);
    // Free seats are the odd seat numbers; 499 and 501 are the two nearest the centre,
    // which lies between seats 500 and 501.
    assert.deepEqual(bestSeats(grid, 2), seatsAt(grid, [1000, 499], [1000, 501]));
  });
});

describe('checkManualSeats', () => {
  it('accepts free seats and returns them sorted', () => {
    const grid = gridFrom(['.x..']);
    assert.deepEqual(checkManualSeats(grid, [3, 0, 2]), { ok: true, seats: [0, 2, 3] });
  });

  it('refuses all when any one is taken, and leaves the grid alone', () => {
    const grid = gridFrom(['.x..']);
    setSeatState(grid, 3, SEAT_RESERVED);
    assert.deepEqual(checkManualSeats(grid, [0, 3]), { ok: false, reason: 'SEATS_UNAVAILABLE' });
    assert.deepEqual(checkManualSeats(grid, [1]), { ok: false, reason: 'SEATS_UNAVAILABLE' });
    assert.equal(draw(grid), '.x.x');
  });

  it('asserts on duplicates, indexes out of range and empty requests', () => {
    const grid = gridFrom(['....']);
    assert.throws(() => checkManualSeats(grid, [1, 1]), assert.AssertionError);
    assert.throws(() => checkManualSeats(grid, [4]), assert.AssertionError);
    assert.throws(() => checkManualSeats(grid, []), assert.AssertionError);
  });
});

function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function randomGrid(random: () => number): SeatGrid {
  const densities = [0, 0.2, 0.5, 0.7, 0.85, 0.95];
  const density = densities[randomInt(random, 0, densities.length - 1)]!;
  const rows = randomInt(random, 1, 4);
  const seatsPerRow = randomInt(random, 1, 7);
  const states = Uint8Array.from({ length: rows * seatsPerRow }, () =>
    random() < density ? randomInt(random, SEAT_RESERVED, SEAT_SOLD) : SEAT_FREE,
  );
  return createSeatGrid(rows, seatsPerRow, states);
}

function assertValidSeats(grid: SeatGrid, seats: readonly number[], quantity: number, context: string): void {
  assert.equal(seats.length, quantity, context);
  assert.deepEqual(seats, [...new Set(seats)].sort((a, b) => a - b), `seats not distinct and sorted: ${context}`);
  assert.ok(
    seats.every((seat) => grid.states[seat] === SEAT_FREE),
    `seats not free: ${context}`,
  );
}

describe('findBestAvailable against the brute-force oracle', () => {
  const seeds = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597];
  const casesPerSeed = 400;

  for (const seed of seeds) {
    it(`agrees on ${casesPerSeed} random grids from seed ${seed}`, () => {
      const random = createPrng(seed).next;
      for (let trial = 0; trial < casesPerSeed; trial++) {
        const grid = randomGrid(random);
        const quantity = randomInt(random, 1, 4);
        const context = `seed ${seed} trial ${trial}, quantity ${quantity}, grid ${draw(grid)}`;
        const fast = findBestAvailable(grid, quantity);
        const oracle = bruteForceBest(grid, quantity);
        if (oracle === undefined) {
          assert.deepEqual(fast, { ok: false, reason: 'SOLD_OUT' }, context);
          continue;
        }
        assert.ok(fast.ok, `unexpected SOLD_OUT: ${context}`);
        assertValidSeats(grid, fast.seats, quantity, context);
        assert.deepEqual(costOf(grid, fast.seats), oracle.cost, context);
        // Rule 5 makes the order total, so the best set is unique.
        assert.deepEqual(fast.seats, oracle.seats, context);
      }
    });
  }
});

describe('sequential sellout', () => {
  it('books random quantities on 20 × 30 seats until SOLD_OUT without double-selling', () => {
    const random = createPrng(2024).next;
    const grid = createSeatGrid(20, 30);
    const taken = new Set<number>();
    let booked = 0;
    let quantity = randomInt(random, 1, 4);
    for (let result = findBestAvailable(grid, quantity); result.ok; result = findBestAvailable(grid, quantity)) {
      assertValidSeats(grid, result.seats, quantity, `booking ${taken.size}`);
      for (const seat of result.seats) {
        assert.ok(!taken.has(seat), `seat ${seat} taken twice`);
        taken.add(seat);
        setSeatState(grid, seat, SEAT_RESERVED);
      }
      booked += quantity;
      quantity = randomInt(random, 1, 4);
    }
    assert.ok(grid.free < quantity, `SOLD_OUT with ${grid.free} free for ${quantity}`);
    assert.equal(taken.size, booked);
    assert.equal(grid.states.filter((state) => state !== SEAT_FREE).length, booked);
    assert.equal(grid.free, 600 - booked);
  });
});
