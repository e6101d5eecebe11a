import { openSse } from '../../dev/testing/sse-client.ts';
import { createSamples, summarize, type Summary } from './stats.ts';

// End-to-end latency as a buyer sees it: right after the 202 the client opens
// GET /bookings/:id/stream and waits for the first decided `booking` message. The latency is
// from the POST's send time to that message, on the load generator's clock only. Opening the
// stream costs a round trip of its own, so a decision faster than that is reported at the
// stream's first message (the stream's first message is the current state).

export interface BookingWatcher {
  watch(bookingId: string, token: string, sentAtMs: number): void;
  finish(timeoutMs: number): Promise<{ summary: Summary; failed: number; timedOut: number }>;
}

const decisionTimeoutMs = 120_000;

export function createBookingWatcher(url: string): BookingWatcher {
  const latencies = createSamples();
  const watches = new Set<Promise<void>>();
  let failed = 0;
  let timedOut = 0;
  return {
    watch(bookingId, token, sentAtMs) {
      const watching = (async () => {
        let stream: Awaited<ReturnType<typeof openSse>> | undefined;
        try {
          stream = await openSse(`${url}/bookings/${bookingId}/stream`, { authorization: `Bearer ${token}` });
          if (stream.status !== 200) {
            failed++;
            return;
          }
          await stream.next((message) => message.event === 'booking' && JSON.parse(message.data).status !== 'PENDING', decisionTimeoutMs);
          latencies.push(performance.now() - sentAtMs);
        } catch (error) {
          if (String(error).includes('no matching SSE message')) timedOut++;
          else failed++;
        } finally {
          stream?.close();
        }
      })();
      watches.add(watching);
      void watching.finally(() => watches.delete(watching));
    },
    async finish(timeoutMs) {
      await Promise.race([Promise.all(watches), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
      timedOut += watches.size;
      return { summary: summarize(latencies.values()), failed, timedOut };
    },
  };
}
