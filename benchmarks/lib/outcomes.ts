import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { BookingView } from '@ticketing/shared/domain/booking';
import type { HttpClient, Tokens } from './http.ts';

// The decision of every accepted booking, once all are decided: from Postgres when the runner
// can reach the target's database (one query for the whole event), otherwise by polling
// GET /bookings/:id as each booking's owner. Both report the service's own decidedAt, so
// "end-to-end for all" compares the load generator's send time with the service's clock:
// valid on one machine, and only as good as clock sync elsewhere (the SSE sample is not).

export interface Outcome {
  // RESERVED or REJECTED; a product with holds may have moved a booking on (PAID, EXPIRED…).
  readonly status: string;
  readonly reason: string | null;
  readonly decidedAtMs: number;
  readonly subsectionKey: string;
  // Seat positions as "row:seat" within the subsection.
  readonly seats: readonly string[];
}

export interface OutcomeReport {
  readonly outcomes: Map<string, Outcome>;
  readonly undecided: number;
  readonly waitedMs: number;
  readonly source: 'postgres' | 'api';
}

export interface AcceptedBooking {
  readonly id: string;
  readonly user: string;
}

const pollIntervalMs = 100;
const apiPollConcurrency = 32;

export async function collectOutcomes(options: {
  eventId: string;
  accepted: readonly AcceptedBooking[];
  pool: pg.Pool | undefined;
  http: HttpClient;
  tokens: Tokens;
  timeoutMs: number;
  progress: (line: string) => void;
}): Promise<OutcomeReport> {
  const startedAt = performance.now();
  if (options.pool) {
    const pool = options.pool;
    let lastReport = 0;
    for (;;) {
      const result = await pool.query<{ n: number }>('select count(*)::int as n from bookings where event_id = $1', [options.eventId]);
      const decided = result.rows[0]!.n;
      if (decided >= options.accepted.length || performance.now() - startedAt > options.timeoutMs) break;
      if (performance.now() - lastReport > 2000) {
        options.progress(`  waiting for decisions: ${decided}/${options.accepted.length}`);
        lastReport = performance.now();
      }
      await sleep(pollIntervalMs);
    }
    const waitedMs = performance.now() - startedAt;
    const rows = await pool.query<{ id: string; status: string; reason: string | null; decided_ms: number; section: string; number: number; seats_per_row: number; seats: number[] }>(
      `select b.id, b.status, b.reason, (extract(epoch from b.decided_at) * 1000)::float8 as decided_ms, s.section, s.number, s.seats_per_row, b.seats
       from bookings b join subsections s on s.id = b.subsection_id where b.event_id = $1`,
      [options.eventId],
    );
    const outcomes = new Map<string, Outcome>();
    for (const row of rows.rows) {
      outcomes.set(row.id, {
        status: row.status,
        reason: row.reason,
        decidedAtMs: row.decided_ms,
        subsectionKey: `${row.section}-${row.number}`,
        seats: row.seats.map((index) => `${Math.floor(index / row.seats_per_row) + 1}:${(index % row.seats_per_row) + 1}`),
      });
    }
    const undecided = options.accepted.filter((booking) => !outcomes.has(booking.id)).length;
    return { outcomes, undecided, waitedMs, source: 'postgres' };
  }

  const outcomes = new Map<string, Outcome>();
  let pending = [...options.accepted];
  while (pending.length > 0 && performance.now() - startedAt < options.timeoutMs) {
    const still: AcceptedBooking[] = [];
    let next = 0;
    const worker = async () => {
      while (next < pending.length) {
        const booking = pending[next++]!;
        const response = await options.http.get<BookingView>(`/bookings/${booking.id}`, options.tokens.buyer(booking.user)).catch(() => undefined);
        const body = response?.body;
        if (response?.status === 200 && body && body.status !== 'PENDING') {
          outcomes.set(booking.id, {
            status: body.status,
            reason: body.reason ?? null,
            decidedAtMs: Date.parse(body.decidedAt ?? ''),
            subsectionKey: `${body.section}-${body.subsection}`,
            seats: body.seats.map((seat) => `${seat.row}:${seat.seat}`),
          });
        } else {
          still.push(booking);
        }
      }
    };
    await Promise.all(Array.from({ length: apiPollConcurrency }, worker));
    if (still.length > 0) options.progress(`  waiting for decisions: ${outcomes.size}/${options.accepted.length} (polling the API)`);
    pending = still;
    if (pending.length > 0) await sleep(500);
  }
  return { outcomes, undecided: pending.length, waitedMs: performance.now() - startedAt, source: 'api' };
}
