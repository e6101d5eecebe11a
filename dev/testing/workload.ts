import type { Api } from './system.ts';
import { newBookingId } from './system.ts';
import { createPrng } from './prng.ts';

// Booking traffic for tests and benchmarks: a seeded mix of best-available requests and
// manual picks aimed at a few hot seats, from many users, with a share of resent ids.

export interface SubsectionTarget {
  readonly section: string;
  readonly number: number;
  readonly rows: number;
  readonly seatsPerRow: number;
}

export interface PlannedBooking {
  readonly user: string;
  readonly body: { id: string; eventId: string; section: string; subsection: number; quantity: number; seats?: Array<{ row: number; seat: number }> };
}

export function planBookings(options: {
  eventId: string;
  subsections: readonly SubsectionTarget[];
  count: number;
  users: number;
  manualShare: number;
  // The last bookings ask for one seat each, so leftovers between bigger parties get sold.
  singlesAtEnd: number;
  seed: number;
}): PlannedBooking[] {
  const random = createPrng(options.seed).next;
  const planned: PlannedBooking[] = [];
  for (let index = 0; index < options.count; index++) {
    const target = options.subsections[index % options.subsections.length]!;
    const user = `user-${Math.floor(random() * options.users)}`;
    const base = { id: newBookingId(), eventId: options.eventId, section: target.section, subsection: target.number };
    if (index >= options.count - options.singlesAtEnd) {
      planned.push({ user, body: { ...base, quantity: 1 } });
    } else if (random() < options.manualShare) {
      // Hot seats: the front row's first four seats, so manual picks collide on purpose.
      const first = 1 + Math.floor(random() * Math.min(4, target.seatsPerRow));
      const quantity = first < target.seatsPerRow && random() < 0.5 ? 2 : 1;
      const seats = Array.from({ length: quantity }, (_, offset) => ({ row: 1, seat: first + offset }));
      planned.push({ user, body: { ...base, quantity, seats } });
    } else {
      planned.push({ user, body: { ...base, quantity: 1 + Math.floor(random() * 4) } });
    }
  }
  return planned;
}

export interface SendResult {
  readonly accepted: Set<string>;
  readonly statuses: Map<number, number>;
  readonly acceptLatenciesMs: number[];
}

// Sends every booking with at most `concurrency` in flight; `resendShare` of them are sent
// again (same id, same body, same user) right after their first answer.
export async function sendBookings(api: Api, planned: readonly PlannedBooking[], options: { concurrency: number; resendShare: number; seed: number }): Promise<SendResult> {
  const random = createPrng(options.seed).next;
  const tokens = new Map<string, string>();
  const tokenOf = (user: string) => {
    let token = tokens.get(user);
    if (!token) tokens.set(user, (token = api.token(user, 'buyer')));
    return token;
  };
  const queue: Array<{ booking: PlannedBooking; resend: boolean }> = planned.map((booking) => ({ booking, resend: random() < options.resendShare }));
  const result: SendResult = { accepted: new Set(), statuses: new Map(), acceptLatenciesMs: [] };
  const send = async (booking: PlannedBooking) => {
    const startedAt = performance.now();
    const response = await api.request('POST', '/bookings', { token: tokenOf(booking.user), body: booking.body });
    result.acceptLatenciesMs.push(performance.now() - startedAt);
    result.statuses.set(response.status, (result.statuses.get(response.status) ?? 0) + 1);
    if (response.status === 202 || response.status === 200) result.accepted.add(booking.body.id);
    return response.status;
  };
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const item = queue[next++]!;
      await send(item.booking);
      if (item.resend) await send(item.booking);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return result;
}
