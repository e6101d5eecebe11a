import type { RunContext } from '../lib/context.ts';

// Opens the pool's connections and lets the target load the event (its layout cache) before
// the clock starts, so a scenario measures bookings and not TCP handshakes or a cold cache.
export async function warmUp(context: RunContext, eventId: string, connections: number): Promise<void> {
  const rounds = 2;
  for (let round = 0; round < rounds; round++) {
    const answers = await Promise.all(Array.from({ length: connections }, () => context.http.get(`/events/${eventId}`).catch(() => undefined)));
    const failed = answers.filter((answer) => answer?.status !== 200).length;
    if (failed > 0) throw new Error(`warm-up: ${failed} of ${connections} GET /events/${eventId} failed`);
  }
}
