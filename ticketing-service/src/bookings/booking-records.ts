import type { BookingRecord } from '@ticketing/shared/domain/booking';
import type { TicketingRedis } from '@ticketing/shared/redis/client';
import type { RedisKeys } from '@ticketing/shared/redis/keys';

// The Redis booking record: written PENDING by the ticketing service when it accepts a
// booking (SET NX, so the first writer of an id wins), overwritten with the decision by the
// reservation service. It is what lets any ticketing process answer PENDING right after the
// 202, and what a retry with the same id is compared against.

export type ClaimResult =
  | { readonly claimed: true; readonly serialized: string }
  | { readonly claimed: false; readonly existing: BookingRecord | null };

export interface BookingRecords {
  claim(record: BookingRecord): Promise<ClaimResult>;
  get(bookingId: string): Promise<BookingRecord | null>;
  // Undo a claim whose command never reached Kafka, unless something overwrote it since.
  release(bookingId: string, serialized: string): Promise<void>;
}

export function createBookingRecords(options: { redis: TicketingRedis; keys: RedisKeys; ttlS: number }): BookingRecords {
  const { redis, keys } = options;
  const get = async (bookingId: string) => {
    const value = await redis.get(keys.booking(bookingId));
    return value === null ? null : (JSON.parse(value) as BookingRecord);
  };
  return {
    get,
    async claim(record) {
      const serialized = JSON.stringify(record);
      const result = await redis.set(keys.booking(record.id), serialized, 'EX', options.ttlS, 'NX');
      if (result === 'OK') return { claimed: true, serialized };
      return { claimed: false, existing: await get(record.id) };
    },
    async release(bookingId, serialized) {
      await redis.deleteIfEquals(keys.booking(bookingId), serialized);
    },
  };
}
