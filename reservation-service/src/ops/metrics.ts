import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Command } from '@ticketing/shared/messaging/messages';
import type { DecideBatchResult } from '../reservations/decide-batch.ts';

// The reservation service's Prometheus series, served on RESERVATION_HTTP_PORT
// (docs/observability.md says which to watch). Labels are bounded: command types, booking
// statuses and reason codes are fixed sets; partitions are at most the topic's partition count.

export function createReservationMetrics(registry: Registry, options: { clock: () => number }) {
  const sliceCommands = new Histogram({ name: 'ticketing_reservation_slice_commands', help: 'Commands decided per Postgres transaction', buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500], registers: [registry] });
  const sliceSeconds = new Histogram({ name: 'ticketing_reservation_slice_seconds', help: 'Time to decide, persist and project one slice', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [registry] });
  const commandsTotal = new Counter({ name: 'ticketing_reservation_commands_total', help: 'Commands decided, by type', labelNames: ['type'], registers: [registry] });
  const bookingsDecided = new Counter({ name: 'ticketing_bookings_decided_total', help: 'Booking transitions decided, by resulting status and reason', labelNames: ['status', 'reason'], registers: [registry] });
  const decisionSeconds = new Histogram({
    name: 'ticketing_booking_decision_latency_seconds',
    help: "From a command's issue (its atMs: the booking's acceptance for a reserve) until its slice is in Postgres and Redis, by command type",
    labelNames: ['type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const conflictsTotal = new Counter({ name: 'ticketing_reservation_conflicts_total', help: 'Slices decided again because another writer moved state first', registers: [registry] });
  const poisonTotal = new Counter({ name: 'ticketing_reservation_poison_total', help: 'Commands skipped because they could not be read', registers: [registry] });
  const consumerLag = new Gauge({ name: 'ticketing_kafka_consumer_lag', help: 'Commands in the partition not yet decided and committed by this process, as of its last fetch', labelNames: ['partition'], registers: [registry] });
  const expiriesRequested = new Counter({ name: 'ticketing_holds_expiry_requested_total', help: 'Expired holds sent to their partition', registers: [registry] });
  const paymentsSettled = new Counter({ name: 'ticketing_payments_total', help: 'Payment provider calls, by outcome', labelNames: ['outcome'], registers: [registry] });

  return {
    registry,
    sliceDecided(slice: { readonly result: DecideBatchResult; readonly durationMs: number; readonly commands: readonly Command[] }) {
      const { result } = slice;
      const doneAtMs = options.clock();
      sliceCommands.observe(result.commands);
      sliceSeconds.observe(slice.durationMs / 1000);
      for (const command of slice.commands) {
        commandsTotal.inc({ type: command.type });
        decisionSeconds.observe({ type: command.type }, Math.max(0, doneAtMs - command.atMs) / 1000);
      }
      for (const decision of result.decisions) bookingsDecided.inc({ status: decision.status, reason: decision.reason ?? 'none' });
      if (result.conflicts > 0) conflictsTotal.inc(result.conflicts);
    },
    lag(partition: number, messages: number) {
      consumerLag.set({ partition: String(partition) }, messages);
    },
    // After a rebalance only the partitions this process now owns report lag.
    partitionsAssigned(assigned: readonly number[]) {
      consumerLag.reset();
      for (const partition of assigned) consumerLag.set({ partition: String(partition) }, 0);
    },
    poison: () => poisonTotal.inc(),
    expiriesRequested: (count: number) => expiriesRequested.inc(count),
    paymentSettled: (outcome: string) => paymentsSettled.inc({ outcome }),
  };
}

export type ReservationMetrics = ReturnType<typeof createReservationMetrics>;
