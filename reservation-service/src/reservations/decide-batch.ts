import { seatPositions, type BookingRecord } from '@ticketing/shared/domain/booking';
import { SeatState } from '@ticketing/shared/domain/seat-map';
import type { BookingNotice, Command, EventUpdate, SubsectionUpdate } from '@ticketing/shared/messaging/messages';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { createSeatGrid, setSeatState, type SeatGrid } from '../seating/seat-grid.ts';
import { StaleStateError, type BookingStore, type SubsectionCounts } from './booking-store.ts';
import { planBatch, type BookingState, type EventPolicy, type Plan, type SubsectionInfo } from './plan-batch.ts';
import type { SeatProjection } from './seat-projection.ts';

// The use case: load → decide → persist → project → publish, for one slice of a partition's
// commands. Postgres is written first and is the truth; the Redis projection and the Pub/Sub
// messages follow, and the caller commits the Kafka offset only after both.
//
// Seat grids are cached in memory between slices because this process is the single writer
// of its partitions' subsections. The cache is a hint, never trusted over Postgres: it is
// dropped on every rebalance and after any failed write, and a stale grid cannot double-sell
// because Postgres refuses the slice (StaleStateError) and it is decided again from fresh state.

export interface DecideBatchResult {
  readonly commands: number;
  readonly inserted: number;
  readonly updated: number;
  readonly replayed: number;
  readonly ignored: number;
  readonly conflicts: number;
  readonly paymentsQueued: number;
  readonly refundsQueued: number;
  // Every booking whose state this slice changed (inserts and updates), as it ended.
  readonly decisions: readonly Decision[];
}

export interface Decision {
  readonly bookingId: string;
  readonly status: string;
  readonly reason: string | null;
}

export interface DecideBatchOptions {
  // W3C traceparent of each booking's decision span, by booking id: published with the
  // booking's update so the ticketing service's SSE push joins its trace.
  readonly traces?: ReadonlyMap<string, string>;
}

export interface DecideBatch {
  run(commands: readonly Command[], options?: DecideBatchOptions): Promise<DecideBatchResult>;
  forgetGrids(): void;
}

const conflictAttemptsMax = 8;
const subsectionCacheMax = 100_000;
// Organizer changes (closing sales, cancelling, new caps) reach the deciders within this.
const policyCacheMs = 1000;

export function createDecideBatch(deps: {
  store: BookingStore;
  projection: SeatProjection;
  logger: Logger;
  clock: () => number;
  defaults: { holdDurationS: number; buyerSeatsMax: number };
}): DecideBatch {
  const { store, projection, logger } = deps;
  const subsections = new Map<number, SubsectionInfo>();
  const grids = new Map<number, SeatGrid>();
  // The projection version each cached grid reflects. A slice is written only if Postgres still
  // holds that version for every subsection it touched, so a process whose grids went stale
  // (another one wrote meanwhile: a zombie, or the new owner after a rebalance) is refused and
  // decides again from fresh state, and its Redis writes carry the version it really saw.
  const gridVersions = new Map<number, number>();
  const forgetGrid = (id: number) => {
    grids.delete(id);
    gridVersions.delete(id);
  };
  const policies = new Map<string, { policy: EventPolicy; loadedAtMs: number }>();

  const ensureSubsections = async (ids: readonly number[]) => {
    const missing = ids.filter((id) => !subsections.has(id));
    if (missing.length === 0) return;
    if (subsections.size + missing.length > subsectionCacheMax) subsections.clear();
    for (const [id, info] of await store.loadSubsections(missing)) subsections.set(id, info);
  };

  const currentPolicies = async (eventIds: readonly string[]) => {
    const now = deps.clock();
    const stale = eventIds.filter((id) => (policies.get(id)?.loadedAtMs ?? -Infinity) < now - policyCacheMs);
    if (stale.length > 0) {
      if (policies.size > subsectionCacheMax) policies.clear();
      for (const [id, policy] of await store.loadPolicies(stale, deps.defaults)) policies.set(id, { policy, loadedAtMs: now });
    }
    return new Map(eventIds.flatMap((id) => {
      const entry = policies.get(id);
      return entry ? [[id, entry.policy] as const] : [];
    }));
  };

  // Taking over a subsection (first slice after start or rebalance): load its seats from
  // Postgres and rebuild its bitmap from them, so a projection left stale by a previous owner
  // that crashed between its Postgres commit and its Redis write is repaired before use.
  const ensureGrids = async (ids: readonly number[]) => {
    const missing = ids.filter((id) => !grids.has(id));
    if (missing.length === 0) return;
    const seats = await store.loadSeats(missing);
    await rebuild(missing, seats);
    for (const id of missing) {
      const info = subsections.get(id)!;
      const grid = createSeatGrid(info.rows, info.seatsPerRow);
      for (const [seat, state] of seats.get(id)?.allocations ?? []) setSeatState(grid, seat, state);
      grids.set(id, grid);
      gridVersions.set(id, seats.get(id)?.version ?? 0);
    }
  };

  const rebuild = (ids: readonly number[], seats: ReadonlyMap<number, { version: number; allocations: ReadonlyArray<readonly [number, 0 | 1 | 2]> }>) =>
    projection.rebuild(ids.map((id) => ({ id, version: seats.get(id)?.version ?? 0, capacity: subsections.get(id)!.capacity, allocations: seats.get(id)?.allocations ?? [] })));

  const attempt = async (commands: readonly Command[]) => {
    const bookingIds: string[] = [];
    const paymentIds: string[] = [];
    const cancelledSubsections: number[] = [];
    const buyers: Array<{ eventId: string; userId: string }> = [];
    for (const command of commands) {
      if (command.type === 'cancel-event') cancelledSubsections.push(command.subsectionId);
      else bookingIds.push(command.bookingId);
      // A pay command's payment may already exist (a duplicate delivered after its decline).
      if (command.type === 'payment-result' || command.type === 'pay') paymentIds.push(command.paymentId);
      // The policy the slice decides with must include this cancellation.
      if (command.type === 'cancel-event') policies.delete(command.eventId);
      if (command.type === 'reserve') buyers.push({ eventId: command.eventId, userId: command.userId });
    }
    // Grids (and the versions they reflect) are read before the bookings: a write that lands
    // in between moves a version, so the guarded write refuses the slice instead of letting a
    // booking read before it be decided, or replayed into Redis, as if it were current.
    const loadState = () => store.loadState({ bookingIds: unique(bookingIds), paymentIds: unique(paymentIds), cancelledSubsections: unique(cancelledSubsections), buyers });
    await ensureSubsections(unique(commands.map((command) => command.subsectionId)));
    await ensureGrids(unique(commands.map((command) => command.subsectionId)).filter((id) => subsections.has(id)));
    let state = await loadState();
    const subsectionIds = unique([...commands.map((command) => command.subsectionId), ...[...state.bookings.values()].map((booking) => booking.subsectionId)]);
    await ensureSubsections(subsectionIds);
    const known = subsectionIds.filter((id) => subsections.has(id));
    // A booking filed under another subsection than its command names (a malformed command):
    // its grid is read now, so the bookings are read again after it.
    if (known.some((id) => !grids.has(id))) {
      await ensureGrids(known);
      state = await loadState();
    }
    const eventPolicies = await currentPolicies(unique(known.map((id) => subsections.get(id)!.eventId)));
    const nowMs = deps.clock();
    const plan = planBatch({ commands, bookings: state.bookings, payments: state.payments, buyerSeats: state.buyerSeats, policies: eventPolicies, subsections, grids, nowMs });
    let counts: SubsectionCounts[];
    try {
      counts = await store.writePlan(plan, known.map((id) => ({ id, version: gridVersions.get(id)! })));
    } catch (error) {
      for (const id of known) forgetGrid(id);
      throw error;
    }
    for (const count of counts) gridVersions.set(count.id, count.version);
    return { plan, counts, touched: known };
  };

  return {
    // After a rebalance the partitions this process decides may have been decided elsewhere
    // meanwhile: grids and policies (a cancel-event another process decided) are stale.
    forgetGrids: () => {
      grids.clear();
      gridVersions.clear();
      policies.clear();
    },

    async run(commands, options = {}) {
      for (let conflicts = 0; ; conflicts++) {
        let outcome: Awaited<ReturnType<typeof attempt>>;
        try {
          outcome = await attempt(commands);
        } catch (error) {
          if (error instanceof StaleStateError && conflicts + 1 < conflictAttemptsMax) {
            // A buyer's count or a seat moved under us: the next attempt sees it.
            logger.warn({ err: error, conflicts: conflicts + 1 }, 'state changed under this writer; deciding the slice again from Postgres');
            policies.clear();
            continue;
          }
          throw error;
        }
        const { plan, counts, touched } = outcome;
        for (const { command, problem } of plan.ignored) logger.warn({ type: command.type, bookingId: 'bookingId' in command ? command.bookingId : undefined, problem }, 'command ignored');
        try {
          await project(plan, counts, touched, options.traces);
        } catch (error) {
          // Postgres has the slice but Redis may have part of it: rebuild these bitmaps from
          // Postgres on the retry rather than trusting a replay to repair every seat (a replay
          // rewrites the seats bookings hold, not the ones they released).
          for (const id of touched) forgetGrid(id);
          throw error;
        }
        const decisions = [...plan.inserts, ...plan.updates.map((update) => update.after)].map((booking) => ({ bookingId: booking.id, status: booking.status, reason: booking.reason }));
        return {
          commands: commands.length,
          inserted: plan.inserts.length,
          updated: plan.updates.length,
          replayed: plan.replays.length,
          ignored: plan.ignored.length,
          conflicts,
          paymentsQueued: plan.newPayments.length,
          refundsQueued: plan.paymentChanges.filter((change) => change.to === 'REFUND_REQUIRED').length,
          decisions,
        };
      }
    },
  };

  // Every subsection the slice touched is written, even with no seat change (a sold-out
  // subsection only rejects), so a bitmap Redis lost is noticed and rebuilt on the next
  // command for it, not left to send every reader to Postgres.
  async function project(plan: Plan, counts: readonly SubsectionCounts[], touched: readonly number[], traces: ReadonlyMap<string, string> | undefined) {
    const bookings = [...plan.inserts, ...plan.updates.map((update) => update.after), ...plan.replays];
    const records = bookings.map(recordOf);
    const seatChanges = new Map<number, Array<[number, number]>>(touched.map((id) => [id, []]));
    for (const write of plan.seats) seatChanges.get(write.subsectionId)?.push([write.seat, write.after?.state ?? SeatState.FREE]);
    // A replayed booking's seats are written again: the crash that caused the redelivery may
    // have come between the Postgres commit and the Redis write.
    for (const booking of plan.replays) {
      const state = booking.status === 'RESERVED' ? SeatState.RESERVED : booking.status === 'PAID' ? SeatState.SOLD : null;
      if (state !== null) for (const seat of booking.seats) seatChanges.get(booking.subsectionId)?.push([seat, state]);
    }
    const versions = new Map(counts.map((count) => [count.id, count.version]));
    const { missing, stale } = await projection.write({
      seatChanges,
      versions,
      records,
      updates: (fresh) => eventUpdates(records.filter((record) => fresh.bookings.has(record.id)), counts.filter((count) => fresh.subsections.has(count.id)), seatChanges, plan.notices, traces),
    });
    if (stale > 0) logger.warn({ stale }, 'Redis already holds newer state than this slice; its older writes were refused');
    if (missing.length > 0) {
      logger.warn({ subsections: missing }, 'seat bitmap missing in Redis; rebuilding from Postgres');
      await rebuild(missing, await store.loadSeats(missing));
    }
  }

  function recordOf(booking: BookingState): BookingRecord {
    const info = subsections.get(booking.subsectionId)!;
    const iso = (value: number | null) => (value === null ? undefined : new Date(value).toISOString());
    return {
      id: booking.id,
      eventId: info.eventId,
      section: info.section,
      subsection: info.number,
      quantity: booking.quantity,
      status: booking.status,
      ...(booking.reason ? { reason: booking.reason } : {}),
      seats: seatPositions(info, booking.seats),
      createdAt: new Date(booking.createdAtMs).toISOString(),
      decidedAt: new Date(booking.decidedAtMs).toISOString(),
      ...(booking.holdExpiresAtMs !== null ? { holdExpiresAt: iso(booking.holdExpiresAtMs) } : {}),
      ...(booking.paidAtMs !== null ? { paidAt: iso(booking.paidAtMs) } : {}),
      ...(booking.releasedAtMs !== null ? { releasedAt: iso(booking.releasedAtMs) } : {}),
      version: booking.version,
      userId: booking.userId,
      fingerprint: booking.fingerprint,
    };
  }

  function eventUpdates(
    records: readonly BookingRecord[],
    counts: readonly SubsectionCounts[],
    seatChanges: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>>,
    notices: readonly BookingNotice[],
    traces: ReadonlyMap<string, string> | undefined,
  ): EventUpdate[] {
    const byEvent = new Map<string, { bookings: EventUpdate['bookings'][number][]; subsections: SubsectionUpdate[]; notices: BookingNotice[]; traces: Record<string, string> | undefined }>();
    const entry = (eventId: string) => {
      let found = byEvent.get(eventId);
      if (!found) byEvent.set(eventId, (found = { bookings: [], subsections: [], notices: [], traces: undefined }));
      return found;
    };
    const eventOfBooking = new Map<string, string>();
    for (const { userId: _userId, fingerprint: _fingerprint, ...view } of records) {
      const update = entry(view.eventId);
      update.bookings.push(view);
      eventOfBooking.set(view.id, view.eventId);
      const traceparent = traces?.get(view.id);
      if (traceparent) (update.traces ??= {})[view.id] = traceparent;
    }
    for (const count of counts) {
      const info = subsections.get(count.id)!;
      entry(info.eventId).subsections.push({
        section: info.section, subsection: info.number, changes: seatChanges.get(count.id) ?? [], reserved: count.reserved, sold: count.sold, capacity: count.capacity,
      });
    }
    for (const notice of notices) {
      const eventId = eventOfBooking.get(notice.bookingId);
      if (eventId) entry(eventId).notices.push(notice);
    }
    return [...byEvent].map(([eventId, update]) => ({
      v: 1,
      eventId,
      bookings: update.bookings,
      subsections: update.subsections,
      ...(update.notices.length > 0 ? { notices: update.notices } : {}),
      ...(update.traces ? { traces: update.traces } : {}),
    }));
  }
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
