import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Command } from '@ticketing/shared/messaging/messages';
import { coalesceSlices } from './coalesce-slices.ts';
import type { DecideBatch, DecideBatchOptions, DecideBatchResult } from './decide-batch.ts';

// The coalescer is pure scheduling around the real decider (whose decisions on merged,
// multi-subsection slices the simulation and sellout tests exercise); here a recording decider
// stands in for it.

const eventId = '019a9a5e-7c2b-7000-8000-0000000000ee';
const reserve = (bookingId: string, subsectionId: number): Command => ({
  v: 1, type: 'reserve', bookingId, eventId, subsectionId, section: 'A', subsection: subsectionId, userId: 'u', quantity: 1, atMs: 0,
} as unknown as Command);
const cancelEvent = (subsectionId: number): Command => ({ v: 1, type: 'cancel-event', eventId, subsectionId, section: 'A', subsection: subsectionId, atMs: 0 } as unknown as Command);

function recordingDecider(outcome: (commands: readonly Command[]) => DecideBatchResult | Error) {
  const calls: Array<{ commands: readonly Command[]; options: DecideBatchOptions | undefined }> = [];
  let forgotten = 0;
  const decider: DecideBatch = {
    run: async (commands, options) => {
      calls.push({ commands, options });
      await nextTurn();
      const result = outcome(commands);
      if (result instanceof Error) throw result;
      return result;
    },
    forgetGrids: () => void (forgotten += 1),
  };
  return { decider, calls, forgotten: () => forgotten };
}

const decidedAll = (commands: readonly Command[], extra: DecideBatchResult['decisions'] = []): DecideBatchResult => ({
  commands: commands.length, inserted: commands.length, updated: extra.length, replayed: 1, ignored: 0, conflicts: 2, paymentsQueued: 3, refundsQueued: 0,
  decisions: [...commands.flatMap((command) => ('bookingId' in command ? [{ bookingId: command.bookingId, status: 'RESERVED', reason: null }] : [])), ...extra],
});

test('slices arriving within the linger are decided in one run, in arrival order, and each gets its own decisions', async () => {
  const released = { bookingId: 'held-before', status: 'CANCELLED', reason: 'EVENT_CANCELLED' };
  const { decider, calls } = recordingDecider((commands) => decidedAll(commands, [released]));
  const coalesced = coalesceSlices(decider, 50);
  const a = [reserve('a1', 1), reserve('a2', 1)];
  const b = [reserve('b1', 2), cancelEvent(2)];
  const c = [reserve('c1', 3)];
  const first = coalesced.run(a, { traces: new Map([['a1', 'trace-a1']]) });
  const second = coalesced.run(b);
  await sleep(5); // a slice of another broker's fetch, a moment later
  const third = coalesced.run(c, { traces: new Map([['c1', 'trace-c1']]) });
  const results = await Promise.all([first, second, third]);

  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]!.commands, [...a, ...b, ...c]);
  assert.deepEqual(calls[0]!.options, { traces: new Map([['a1', 'trace-a1'], ['c1', 'trace-c1']]) });
  assert.deepEqual(results.map((result) => result.decisions.map((decision) => decision.bookingId)), [['a1', 'a2', 'held-before'], ['b1'], ['c1']]);
  assert.deepEqual(results.map((result) => result.commands), [2, 2, 1]);
  // Counters cannot be split; the first slice carries them, so their sum is the merged run's.
  const sum = (key: 'inserted' | 'updated' | 'replayed' | 'conflicts' | 'paymentsQueued') => results.reduce((total, result) => total + result[key], 0);
  assert.deepEqual([sum('inserted'), sum('updated'), sum('replayed'), sum('conflicts'), sum('paymentsQueued')], [5, 1, 1, 2, 3]);
});

test('a lone slice runs as it is after the linger, and a slice after that forms its own run', async () => {
  const { decider, calls } = recordingDecider((commands) => decidedAll(commands));
  const coalesced = coalesceSlices(decider, 5);
  const first = coalesced.run([reserve('x1', 1)], { traces: new Map([['x1', 't']]) });
  await nextTurn();
  assert.equal(calls.length, 0, 'the slice waits for others during the linger');
  await sleep(20);
  assert.equal(calls.length, 1, 'then goes alone');
  const second = coalesced.run([reserve('y1', 2)]);
  const [x, y] = await Promise.all([first, second]);
  assert.equal(calls.length, 2);
  assert.deepEqual(calls.map((call) => call.options), [{ traces: new Map([['x1', 't']]) }, {}]);
  assert.deepEqual([x.decisions.map((d) => d.bookingId), y.decisions.map((d) => d.bookingId)], [['x1'], ['y1']]);
  assert.equal(x.conflicts + y.conflicts, 4, 'each run reports its own counters');
});

test('a failed merged run fails every slice in it, so each is retried and none is committed', async () => {
  const failure = new Error('Postgres is gone');
  const { decider } = recordingDecider(() => failure);
  const coalesced = coalesceSlices(decider, 5);
  const outcomes = await Promise.allSettled([coalesced.run([reserve('p1', 1)]), coalesced.run([reserve('q1', 2)])]);
  assert.deepEqual(outcomes.map((outcome) => outcome.status), ['rejected', 'rejected']);
  assert.ok(outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason === failure));
});

test('forgetting grids reaches the decider', () => {
  const { decider, forgotten } = recordingDecider((commands) => decidedAll(commands));
  coalesceSlices(decider, 5).forgetGrids();
  assert.equal(forgotten(), 1);
});
