import type { BookingRecord } from '@ticketing/shared/domain/booking';
import { encodeBitmap, type SeatState } from '@ticketing/shared/domain/seat-map';
import type { EventUpdate } from '@ticketing/shared/messaging/messages';
import { pipelineOf, type TicketingRedis } from '@ticketing/shared/redis/client';
import type { RedisKeys } from '@ticketing/shared/redis/keys';

// The Redis side of a decided slice: seat changes into each subsection's bitmap and the
// decided booking records in one pipeline, then the Pub/Sub messages for what was applied.
// Every write carries the version Postgres gave the state it reflects, and Redis refuses one
// older than what it holds: a process that stalled and resumed after its partition moved on
// (a zombie) cannot roll the projection back, nor announce old states. Everything here is
// idempotent, so a crash before the offset commit just means it runs again.

export interface ProjectionWrite {
  readonly seatChanges: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>>;
  // The projection version of every subsection in seatChanges (subsections.projection_version).
  readonly versions: ReadonlyMap<number, number>;
  readonly records: readonly BookingRecord[];
  // The Pub/Sub messages to publish, given the subsections and bookings whose writes Redis
  // applied (a refused, stale write is not announced either).
  updates(fresh: { readonly subsections: ReadonlySet<number>; readonly bookings: ReadonlySet<string> }): readonly EventUpdate[];
}

export interface ProjectionResult {
  // Subsections whose bitmap must be rebuilt from Postgres: missing, or missing an earlier
  // slice's changes.
  readonly missing: number[];
  // Writes Redis refused because it already holds a newer state.
  readonly stale: number;
}

export interface SeatProjection {
  write(batch: ProjectionWrite): Promise<ProjectionResult>;
  // Replaces whole bitmaps with Postgres's state (on takeover of a subsection, or when missing).
  rebuild(subsections: ReadonlyArray<{ id: number; version: number; capacity: number; allocations: ReadonlyArray<readonly [number, SeatState]> }>): Promise<void>;
}

const absent = 0;
const applied = 1;
const stale = 2;
const gap = 3;

export function createSeatProjection(options: { redis: TicketingRedis; keys: RedisKeys; recordTtlS: number }): SeatProjection {
  const { redis, keys, recordTtlS } = options;
  return {
    async write(batch) {
      const pipeline = pipelineOf(redis);
      const subsectionIds = [...batch.seatChanges.keys()];
      for (const id of subsectionIds) {
        pipeline.applySeatChanges(keys.seats(id), keys.seatsVersion(id), batch.versions.get(id) ?? 0, ...(batch.seatChanges.get(id) ?? []).flat());
      }
      for (const record of batch.records) pipeline.putRecord(keys.booking(record.id), record.version, JSON.stringify(record), recordTtlS);
      const results = (await pipeline.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
      const outcome = (position: number) => results[position]![1] as number;
      const missing = subsectionIds.filter((_, position) => outcome(position) === absent || outcome(position) === gap);
      const freshSubsections = new Set(subsectionIds.filter((_, position) => outcome(position) !== stale));
      const freshRecords = new Set(batch.records.filter((_, position) => outcome(subsectionIds.length + position) === applied).map((record) => record.id));
      const refused = subsectionIds.length - freshSubsections.size + batch.records.length - freshRecords.size;

      const updates = batch.updates({ subsections: freshSubsections, bookings: freshRecords });
      if (updates.length > 0) {
        const publishing = redis.pipeline();
        for (const update of updates) publishing.publish(keys.eventChannel(update.eventId), JSON.stringify(update));
        for (const [error] of (await publishing.exec()) ?? []) if (error) throw error;
      }
      return { missing, stale: refused };
    },

    async rebuild(subsections) {
      if (subsections.length === 0) return;
      const pipeline = pipelineOf(redis);
      for (const { id, version, capacity, allocations } of subsections) {
        const states = new Uint8Array(capacity);
        for (const [seat, state] of allocations) states[seat] = state;
        pipeline.replaceSeats(keys.seats(id), keys.seatsVersion(id), version, encodeBitmap(states));
      }
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    },
  };
}
