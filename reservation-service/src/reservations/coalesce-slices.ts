import type { Command } from '@ticketing/shared/messaging/messages';
import type { DecideBatch, DecideBatchOptions, DecideBatchResult, Decision } from './decide-batch.ts';

// Slices of different partitions that reach the decider within `lingerMs` of the first are
// decided as one: one state read, one Postgres transaction, one Redis pipeline. At a steady
// arrival rate a partition's slice holds about one command, and these per-slice round trips,
// not the rows, are the cost (BENCHMARK.md, Sustained). Opt-in (RESERVATION_COALESCE_MS):
// each slice then waits up to lingerMs longer, and against the Kafka mock, which returns one
// record batch per partition per fetch, that slows how fast a backlog is consumed.
//
// Decisions stay correct because the partitions' subsections are disjoint: each slice's
// commands keep their order, and what is shared between partitions (a buyer's seat count) is
// checked in the statement that writes the slice, whichever slice comes first. A merged run
// succeeds or fails as a whole, so every slice in it is committed or retried together.

interface Waiter {
  readonly commands: readonly Command[];
  readonly traces: ReadonlyMap<string, string> | undefined;
  resolve(result: DecideBatchResult): void;
  reject(error: unknown): void;
}

export function coalesceSlices(inner: DecideBatch, lingerMs: number): DecideBatch {
  let pending: Waiter[] = [];

  const flush = () => {
    const group = pending;
    pending = [];
    if (group.length === 1) {
      const [only] = group as [Waiter];
      inner.run(only.commands, only.traces ? { traces: only.traces } : {}).then(only.resolve, only.reject);
      return;
    }
    const traces = new Map<string, string>();
    for (const waiter of group) for (const [id, parent] of waiter.traces ?? []) traces.set(id, parent);
    inner.run(group.flatMap((waiter) => waiter.commands), traces.size > 0 ? { traces } : {}).then(
      (merged) => split(merged, group).forEach((share, index) => group[index]!.resolve(share)),
      (error: unknown) => group.forEach((waiter) => waiter.reject(error)),
    );
  };

  return {
    run(commands: readonly Command[], options: DecideBatchOptions = {}) {
      return new Promise<DecideBatchResult>((resolve, reject) => {
        if (pending.length === 0) setTimeout(flush, lingerMs);
        pending.push({ commands, traces: options.traces, resolve, reject });
      });
    },
    forgetGrids: () => inner.forgetGrids(),
  };
}

// Each slice's part of a merged result: its own commands and the decisions on its bookings.
// The merged run's counters cannot be told apart per slice, so the first slice carries them,
// and the decisions no booking command claims (an event cancellation's releases), and the
// others carry none: summed over the slices, as the metrics sum them, they stay exact.
function split(merged: DecideBatchResult, group: readonly Waiter[]): DecideBatchResult[] {
  const owner = new Map<string, number>();
  group.forEach((waiter, index) => {
    for (const command of waiter.commands) if ('bookingId' in command) owner.set(command.bookingId, index);
  });
  const decisions = group.map((): Decision[] => []);
  for (const decision of merged.decisions) decisions[owner.get(decision.bookingId) ?? 0]!.push(decision);
  return group.map((waiter, index) => index === 0
    ? { ...merged, commands: waiter.commands.length, decisions: decisions[0]! }
    : { commands: waiter.commands.length, inserted: 0, updated: 0, replayed: 0, ignored: 0, conflicts: 0, paymentsQueued: 0, refundsQueued: 0, decisions: decisions[index]! });
}
