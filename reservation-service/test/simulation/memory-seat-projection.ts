import type { BookingRecord } from '@ticketing/shared/domain/booking';
import type { EventUpdate } from '@ticketing/shared/messaging/messages';
import type { ProjectionWrite, SeatProjection } from '../../src/reservations/seat-projection.ts';

// Redis as the reservation core writes it, in memory: one seat-state array per subsection
// (the decoded BITFIELD bitmap), the booking records, and the Pub/Sub messages sent.
//
// The rules of the Redis scripts are kept: a bitmap that does not exist is never recreated from
// a slice's changes (the write reports it missing and the caller rebuilds it whole), and every
// write is fenced by the version of the state it reflects: an older one than the projection
// holds is refused, and not announced.

export interface MemorySeatProjection {
  readonly projection: SeatProjection;
  bitmap(subsectionId: number): Uint8Array | undefined;
  record(bookingId: string): BookingRecord | undefined;
  published(): readonly EventUpdate[];
  // Redis restarted without its data, for one bitmap or for everything.
  loseBitmap(subsectionId: number): void;
  flush(): void;
}

// Pub/Sub keeps nothing; only the latest messages are kept for a failing run's trace.
const publishedMax = 64;

export function createMemorySeatProjection(): MemorySeatProjection {
  const bitmaps = new Map<number, Uint8Array>();
  const versions = new Map<number, number>();
  const records = new Map<string, BookingRecord>();
  let published: EventUpdate[] = [];

  const projection: SeatProjection = {
    async write(batch: ProjectionWrite) {
      const missing: number[] = [];
      const freshSubsections = new Set<number>();
      const freshBookings = new Set<string>();
      let stale = 0;
      for (const [subsectionId, changes] of batch.seatChanges) {
        const states = bitmaps.get(subsectionId);
        if (!states) {
          missing.push(subsectionId);
          freshSubsections.add(subsectionId);
          continue;
        }
        const version = batch.versions.get(subsectionId) ?? 0;
        const held = versions.get(subsectionId) ?? -1;
        if (held >= version) {
          stale += 1;
          continue;
        }
        // The changes go from version - 1 to version: on any other base they are a gap.
        if (held !== version - 1) {
          missing.push(subsectionId);
          freshSubsections.add(subsectionId);
          continue;
        }
        for (const [seat, state] of changes) states[seat] = state;
        versions.set(subsectionId, version);
        freshSubsections.add(subsectionId);
      }
      for (const record of batch.records) {
        if ((records.get(record.id)?.version ?? -1) > record.version) {
          stale += 1;
          continue;
        }
        records.set(record.id, record);
        freshBookings.add(record.id);
      }
      published = [...published, ...batch.updates({ subsections: freshSubsections, bookings: freshBookings })].slice(-publishedMax);
      return { missing, stale };
    },

    async rebuild(subsections) {
      for (const { id, version, capacity, allocations } of subsections) {
        if ((versions.get(id) ?? -1) > version) continue;
        const states = new Uint8Array(capacity);
        for (const [seat, state] of allocations) states[seat] = state;
        bitmaps.set(id, states);
        versions.set(id, version);
      }
    },
  };

  return {
    projection,
    bitmap: (subsectionId) => bitmaps.get(subsectionId),
    record: (bookingId) => records.get(bookingId),
    published: () => published,
    loseBitmap: (subsectionId) => {
      bitmaps.delete(subsectionId);
      versions.delete(subsectionId);
    },
    flush: () => {
      bitmaps.clear();
      versions.clear();
      records.clear();
    },
  };
}
