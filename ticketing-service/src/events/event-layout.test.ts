import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNewEvent, indexSubsections, subsectionKey } from './event-layout.ts';

const sub = (number: number, rows = 10, seatsPerRow = 10) => ({ number, rows, seatsPerRow, priceCents: 100 });

test('a valid layout passes', () => {
  assert.equal(checkNewEvent({ name: 'x', sections: [{ name: 'A', subsections: [sub(1), sub(2)] }, { name: 'B', subsections: [sub(1)] }] }, 1000), null);
});

test('duplicates and limits are refused with stable codes', () => {
  assert.equal(checkNewEvent({ name: 'x', sections: [{ name: 'A', subsections: [sub(1)] }, { name: 'A', subsections: [sub(2)] }] }, 1000)?.code, 'DUPLICATE_SUBSECTION');
  assert.equal(checkNewEvent({ name: 'x', sections: [{ name: 'A', subsections: [sub(1), sub(1)] }] }, 1000)?.code, 'DUPLICATE_SUBSECTION');
  assert.equal(checkNewEvent({ name: 'x', sections: [{ name: 'A', subsections: [sub(1), sub(2)] }] }, 199)?.code, 'EVENT_LIMIT_EXCEEDED');
  assert.equal(checkNewEvent({ name: 'x', sections: [{ name: 'A', subsections: [sub(1, 1000, 101)] }] }, 5_000_000)?.code, 'EVENT_LIMIT_EXCEEDED');
});

test('a million-seat event fits the limits', () => {
  const sections = Array.from({ length: 10 }, (_, s) => ({ name: `S${s}`, subsections: Array.from({ length: 10 }, (_, n) => sub(n + 1, 100, 100)) }));
  assert.equal(checkNewEvent({ name: 'stadium', sections }, 1_000_000), null);
});

test('subsections are found by section and number, and by id', () => {
  const sections = [{ name: 'A', subsections: [{ id: 7, section: 'A', number: 2, rows: 1, seatsPerRow: 1, priceCents: 1, capacity: 1 }] }];
  const index = indexSubsections(sections);
  assert.equal(index.subsectionsByKey.get(subsectionKey('A', 2))?.id, 7);
  assert.equal(index.subsectionsById.get(7)?.number, 2);
  assert.equal(index.subsectionsByKey.get(subsectionKey('A', 3)), undefined);
});
