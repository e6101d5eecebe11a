import type pg from 'pg';

// Seats left per live event, for the on-sale dashboard. Read from Postgres's subsection
// counters (the reservation service updates them in the statement that decides a slice), so
// every ticketing process reports the same truth; Grafana takes the max over instances.
//
// "Live": not cancelled or closed, sales not over, the event not started. At most
// `eventsMax` of them, the newest first, so the series count stays bounded whatever the
// catalogue holds; a scrape reuses a read younger than `cacheMs`.

export interface LiveEventSeats {
  readonly eventId: string;
  readonly name: string;
  readonly available: number;
}

const eventNameLengthMax = 64;

export function createLiveEventSeats(options: { pool: pg.Pool; eventsMax: number; cacheMs: number; clock: () => number }): () => Promise<readonly LiveEventSeats[]> {
  let last: { atMs: number; read: Promise<readonly LiveEventSeats[]> } | undefined;
  let known: readonly LiveEventSeats[] = [];

  const read = async (): Promise<readonly LiveEventSeats[]> => {
    const result = await options.pool.query<{ id: string; name: string; available: number }>({
      name: 'metrics.live-event-seats',
      text: `select e.id, e.name, sum(s.capacity - s.reserved_count - s.sold_count)::int as available
             from events e join subsections s on s.event_id = e.id
             where e.cancelled_at is null and e.closed_at is null
               and (e.sales_close_at is null or e.sales_close_at > now())
               and (e.starts_at is null or e.starts_at > now())
             group by e.id
             order by e.created_at desc
             limit $1`,
      values: [options.eventsMax],
    });
    known = result.rows.map((row) => ({ eventId: row.id, name: row.name.slice(0, eventNameLengthMax), available: row.available }));
    return known;
  };

  return () => {
    const now = options.clock();
    if (!last || now - last.atMs >= options.cacheMs) {
      // A failed read keeps the last known values: a scrape must not fail because of it.
      last = { atMs: now, read: read().catch(() => known) };
    }
    return last.read;
  };
}
