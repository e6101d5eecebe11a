import type pg from 'pg';
import { decodeBitmap } from '@ticketing/shared/domain/seat-map';
import type { TicketingRedis } from '@ticketing/shared/redis/client';
import type { RedisKeys } from '@ticketing/shared/redis/keys';
import type { SubsectionLayout } from './event-layout.ts';

// Seat states of a subsection, one byte per seat. Read from the Redis bitmap (the projection
// the reservation service keeps); when the bitmap is missing (a subsection nobody booked yet,
// or Redis lost its data) Postgres answers instead. Readers never write the projection: only
// the partition's single writer rebuilds it.
export interface SeatMapReader {
  read(subsection: SubsectionLayout): Promise<Uint8Array>;
  readMany(subsections: readonly SubsectionLayout[]): Promise<Uint8Array[]>;
}

export function createSeatMapReader(options: { redis: TicketingRedis; keys: RedisKeys; pool: pg.Pool }): SeatMapReader {
  const fromPostgres = async (subsection: SubsectionLayout) => {
    const states = new Uint8Array(subsection.capacity);
    const result = await options.pool.query<{ seat_index: number; state: number }>({
      name: 'ticketing.seat-allocations',
      text: 'select seat_index, state from seat_allocations where subsection_id = $1',
      values: [subsection.id],
    });
    for (const row of result.rows) states[row.seat_index] = row.state;
    return states;
  };

  const readMany = async (subsections: readonly SubsectionLayout[]) => {
    if (subsections.length === 0) return [];
    const bitmaps = await options.redis.mgetBuffer(...subsections.map((subsection) => options.keys.seats(subsection.id)));
    return Promise.all(subsections.map((subsection, position) => {
      const bitmap = bitmaps[position];
      return bitmap ? decodeBitmap(bitmap, subsection.capacity) : fromPostgres(subsection);
    }));
  };

  return {
    readMany,
    read: async (subsection) => (await readMany([subsection]))[0]!,
  };
}
