import assert from 'node:assert/strict';

// A subsection's seats as Redis BITFIELD `u2` fields: seat i occupies bits [2i, 2i+2).
// BITFIELD numbers bits from the most significant bit of byte 0, so seat i lives in byte
// i >> 2 at shift 6 - 2*(i & 3). Redis strings only grow as far as the highest written
// byte, and missing bytes read as zero, which is FREE.

export const SeatState = { FREE: 0, RESERVED: 1, SOLD: 2 } as const;
export type SeatState = (typeof SeatState)[keyof typeof SeatState];

export const seatStateChars = ['.', 'R', 'S'] as const;

export interface GridShape {
  readonly rows: number;
  readonly seatsPerRow: number;
}

export function seatIndex(shape: GridShape, row: number, seat: number): number {
  assert.ok(row >= 1 && row <= shape.rows && seat >= 1 && seat <= shape.seatsPerRow, 'seat out of range');
  return (row - 1) * shape.seatsPerRow + (seat - 1);
}

export function seatPosition(shape: GridShape, index: number): { row: number; seat: number } {
  assert.ok(index >= 0 && index < shape.rows * shape.seatsPerRow, 'seat index out of range');
  return { row: Math.floor(index / shape.seatsPerRow) + 1, seat: (index % shape.seatsPerRow) + 1 };
}

export function bitmapBytes(seatCount: number): number {
  return Math.ceil(seatCount / 4);
}

export function readSeatState(bitmap: Uint8Array, index: number): SeatState {
  const byte = bitmap[index >> 2] ?? 0;
  return ((byte >> (6 - ((index & 3) << 1))) & 3) as SeatState;
}

export function decodeBitmap(bitmap: Uint8Array, seatCount: number): Uint8Array {
  const states = new Uint8Array(seatCount);
  for (let index = 0; index < seatCount; index++) states[index] = readSeatState(bitmap, index);
  return states;
}

export function encodeBitmap(states: Uint8Array): Buffer {
  const bitmap = Buffer.alloc(bitmapBytes(states.length));
  for (let index = 0; index < states.length; index++) {
    const state = states[index] ?? 0;
    assert.ok(state <= SeatState.SOLD, 'invalid seat state');
    bitmap[index >> 2]! |= state << (6 - ((index & 3) << 1));
  }
  return bitmap;
}

// rowStates[i] describes row i+1: one character per seat, '.' free, 'R' reserved, 'S' sold.
export function renderRowStates(shape: GridShape, states: Uint8Array): string[] {
  const rowStates: string[] = [];
  for (let row = 0; row < shape.rows; row++) {
    let line = '';
    for (let seat = 0; seat < shape.seatsPerRow; seat++) {
      line += seatStateChars[states[row * shape.seatsPerRow + seat] ?? 0];
    }
    rowStates.push(line);
  }
  return rowStates;
}
