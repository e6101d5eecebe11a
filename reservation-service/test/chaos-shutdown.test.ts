import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { openSse } from '../../dev/testing/sse-client.ts';
import { recordScenario } from '../../dev/chaos/report.ts';
import { newBookingId, spawnReservation, spawnTicketing, waitFor, type Api, type ChildService } from '../../dev/testing/system.ts';

// SIGTERM to each service while bookings flow (issue 4, scenario 8): the reservation service
// finishes its slice and commits, the ticketing service finishes in-flight requests, drains
// its producer and ends its SSE streams; both exit 0; every 202 is decided.

let environment: TestEnvironment;
const children: ChildService[] = [];

before(async () => {
  environment = await createTestEnvironment({ partitions: 2 });
});

after(async () => {
  for (const child of children) await child.kill('SIGKILL');
  await environment?.close();
});

async function exitOf(child: ChildService): Promise<{ code: number | null; ms: number }> {
  const startedAt = Date.now();
  child.process.kill('SIGTERM');
  const [code] = (await once(child.process, 'exit')) as [number | null];
  return { code, ms: Date.now() - startedAt };
}

test('SIGTERM under load: in-flight work finishes, offsets are committed, streams close, nothing accepted is lost', async () => {
  const ticketing = await spawnTicketing(environment);
  const reservation = await spawnReservation(environment);
  children.push(ticketing, reservation);
  const api: Api = ticketing.api;
  const created = await api.request('POST', '/events', {
    token: api.token('shutdown-organizer', 'organizer'),
    body: { name: 'Shutdown', buyerSeatsMax: 1000, sections: [{ name: 'A', subsections: [1, 2, 3, 4].map((number) => ({ number, rows: 20, seatsPerRow: 20, priceCents: 100 })) }] },
  });
  const eventId: string = created.body.id;

  const accepted: string[] = [];
  const refused = new Map<string, number>();
  let sending = true;
  let sent = 0;
  const load = Array.from({ length: 16 }, async (_, lane) => {
    while (sending) {
      const id = newBookingId();
      sent += 1;
      try {
        const response = await api.request('POST', '/bookings', {
          token: api.token(`shutdown-buyer-${lane}`, 'buyer'),
          body: { id, eventId, section: 'A', subsection: (sent % 4) + 1, quantity: 1 },
        });
        if (response.status === 202) accepted.push(id);
        else refused.set(String(response.status), (refused.get(String(response.status)) ?? 0) + 1);
        assert.ok(response.status === 202 || response.status === 503, `a request failed badly: ${response.status} ${JSON.stringify(response.body)}`);
      } catch (error) {
        // After the server closed its listener, new connections are refused: a clean failure.
        const code = (error as { cause?: { code?: string } }).cause?.code ?? 'error';
        refused.set(code, (refused.get(code) ?? 0) + 1);
        await sleep(20);
      }
    }
  });

  const stream = await openSse(`${api.url}/events/${eventId}/stream`);
  await stream.next((message) => message.event === 'snapshot');
  await sleep(1500);
  const reservationExit = await exitOf(reservation);
  assert.equal(reservationExit.code, 0, 'the reservation service exits cleanly');
  const successor = await spawnReservation(environment);
  children.push(successor);
  await sleep(1500);
  const ticketingExit = await exitOf(ticketing);
  assert.equal(ticketingExit.code, 0, 'the ticketing service exits cleanly');
  sending = false;
  await Promise.all(load);
  await stream.closed;

  assert.ok(accepted.length > 100, `bookings were accepted under load (${accepted.length})`);
  const faultEndedAt = Date.now();
  await waitFor(async () => (await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [accepted])).rows[0].n === accepted.length || undefined, {
    timeoutMs: 60_000, what: 'every accepted booking to be decided by the successor',
  });
  const reader = await spawnTicketing(environment);
  children.push(reader);
  const report = await checkInvariants({ pool: environment.pool, api: reader.api, eventId, acceptedIds: accepted });
  assert.deepEqual(report.violations, []);
  recordScenario({
    scenario: '8 graceful shutdown under load', injected: 'SIGTERM to the reservation service, then to the ticketing service, at 16 concurrent booking requests',
    attempted: sent, accepted: accepted.length, lost: 0, doubleSold: 0, recoveryMs: Date.now() - faultEndedAt,
    notes: `exits 0 in ${reservationExit.ms} ms and ${ticketingExit.ms} ms; refused cleanly: ${JSON.stringify(Object.fromEntries(refused))}`,
  });
  console.log(`shutdown: ${accepted.length} accepted, refused ${JSON.stringify([...refused])}; reservation exited in ${reservationExit.ms} ms, ticketing in ${ticketingExit.ms} ms`);
});
