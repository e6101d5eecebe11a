import type { ExpireCommand } from '@ticketing/shared/messaging/messages';
import type { MemoryBookingStore } from './memory-booking-store.ts';
import type { SimClock } from './sim-clock.ts';

// The expiry sweeper of jobs/expiry-sweeper.ts as a scheduled role: claim the reserved bookings
// whose hold has passed (each at most once per requestAgainMs), and ask each one's partition to
// expire it, with the store's clock as the command's time.

const sweepBatchMax = 1000;
const requestAgainMs = 5000;

export function sweepExpiries(memory: MemoryBookingStore, clock: SimClock): ExpireCommand[] {
  const nowMs = clock.now();
  return memory.claimExpiries(nowMs, requestAgainMs, sweepBatchMax).map((claimed) => ({
    v: 1, type: 'expire', bookingId: claimed.bookingId, eventId: claimed.eventId, subsectionId: claimed.subsectionId, section: claimed.section,
    subsection: claimed.number, atMs: nowMs,
  }));
}

export { requestAgainMs as expiryRequestAgainMs };
