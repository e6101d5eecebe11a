import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { openSse, type SseClient } from '../../dev/testing/sse-client.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import type { ReservationService } from '../../reservation-service/src/service.ts';
import type { TicketingService } from '../src/service.ts';

// Both services' /metrics after a small on-sale: every series docs/observability.md tells an
// operator to watch exists and moved the way the run says it must.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;
const holdS = 6;

before(async () => {
  environment = await createTestEnvironment({ partitions: 2, env: { HOLD_DURATION_S: String(holdS), EXPIRY_SWEEP_INTERVAL_MS: '200' } });
  ticketing = await startTicketing(environment);
  reservation = await startReservation(environment);
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  await environment?.close();
});

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

// The Prometheus text format, enough of it for prom-client's output.
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string) {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const samples = parseMetrics(await response.text());
  const matching = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  return {
    samples,
    // The sum over every series of `name` with these labels; undefined when there is none.
    value(name: string, labels: Record<string, string> = {}): number | undefined {
      const found = matching(name, labels);
      return found.length === 0 ? undefined : found.reduce((sum, sample) => sum + sample.value, 0);
    },
    series: matching,
  };
}

test('a small on-sale moves the key series of both services', async () => {
  const { api } = ticketing;
  const created = await api.request('POST', '/events', {
    token: api.token('metrics-organizer', 'organizer'),
    body: { name: 'Metered', sections: [{ name: 'A', subsections: [{ number: 1, rows: 2, seatsPerRow: 5, priceCents: 100 }] }] },
  });
  assert.equal(created.status, 201);
  const eventId: string = created.body.id;
  const ticketingMetrics = `${api.url}/metrics`;
  const reservationMetrics = `http://127.0.0.1:${reservation.port}/metrics`;

  const first = await scrape(ticketingMetrics);
  assert.equal(first.value('ticketing_event_seats_available', { event_id: eventId, event: 'Metered' }), 10, 'a live event starts with every seat');

  const streams: SseClient[] = [];
  try {
    streams.push(await openSse(`${api.url}/events/${eventId}/stream`));
    // 4 + 4 seats reserved, then a party of 4 finds only 2 seats left.
    const bookings = ['alice', 'bob', 'carol'].map((user) => ({ user, token: api.token(`metrics-${user}`, 'buyer'), id: newBookingId() }));
    for (const booking of bookings) {
      const answer = await api.request('POST', '/bookings', { token: booking.token, body: { id: booking.id, eventId, section: 'A', subsection: 1, quantity: 4 } });
      assert.equal(answer.status, 202);
      const stream = await openSse(`${api.url}/bookings/${booking.id}/stream`, { authorization: `Bearer ${booking.token}` });
      streams.push(stream);
      await stream.next((message) => message.event === 'booking' && JSON.parse(message.data).status !== 'PENDING', 10_000);
    }
    const retry = await api.request('POST', '/bookings', { token: bookings[0]!.token, body: { id: bookings[0]!.id, eventId, section: 'A', subsection: 1, quantity: 4 } });
    assert.equal(retry.status, 200);
    const refused = await api.request('POST', '/bookings', { token: bookings[0]!.token, body: { id: newBookingId(), eventId: '0190a6f0-0000-7000-8000-000000000000', section: 'A', subsection: 1, quantity: 1 } });
    assert.equal(refused.status, 404);

    const onSale = await scrape(ticketingMetrics);
    assert.equal(onSale.value('ticketing_bookings_accepted_total', { result: 'accepted' }), 3);
    assert.equal(onSale.value('ticketing_bookings_accepted_total', { result: 'existing' }), 1);
    assert.equal(onSale.value('ticketing_booking_accept_duration_seconds_count', { outcome: 'accepted' }), 3);
    assert.equal(onSale.value('ticketing_booking_accept_duration_seconds_count', { outcome: 'refused' }), 1);
    assert.equal(onSale.value('ticketing_http_errors_total', { method: 'POST', route: '/bookings', code: 'EVENT_NOT_FOUND' }), 1);
    assert.ok(onSale.value('ticketing_kafka_produce_batch_records_count')! >= 1);
    assert.equal(onSale.value('ticketing_kafka_produce_batch_records_sum'), 3, 'every accepted command went out in a produce request');
    assert.ok(onSale.value('ticketing_kafka_produce_duration_seconds_count', { outcome: 'ok' })! >= 1);
    assert.equal(onSale.value('ticketing_kafka_producer_queued'), 0);
    assert.equal(onSale.value('ticketing_outbox_depth'), 0);
    // The event stream and two reserved bookings' streams (a rejected booking's stream ends).
    assert.equal(onSale.value('ticketing_sse_open_streams'), 3);
    // A stream opened after its booking was decided starts with the outcome: one message or two.
    const bookingMessages = streams.slice(1).reduce((sum, stream) => sum + stream.messages.filter((message) => message.event === 'booking').length, 0);
    assert.ok(bookingMessages >= 3);
    assert.equal(onSale.value('ticketing_sse_messages_total', { stream: 'booking' }), bookingMessages, 'every booking message sent was counted');
    assert.ok(onSale.value('ticketing_sse_messages_total', { stream: 'event' })! >= 1);
    assert.ok(onSale.value('ticketing_redis_command_duration_seconds_count', { command: 'set', outcome: 'ok' })! >= 3, 'booking ids claimed in Redis');
    assert.ok(onSale.value('ticketing_postgres_query_duration_seconds_count', { outcome: 'ok' })! >= 1);
    assert.ok(onSale.series('ticketing_postgres_query_duration_seconds_count').every((sample) => !/\s/.test(sample.labels.operation!)), 'operations are names, never SQL');
    // Read from Postgres at most every 2 s (the first scrape above is that recent).
    await waitFor(async () => (await scrape(ticketingMetrics)).value('ticketing_event_seats_available', { event_id: eventId }) === 2, { timeoutMs: 4000, intervalMs: 250, what: 'seats left after the sale' });
    assert.ok(onSale.value('ticketing_nodejs_eventloop_lag_p99_seconds') !== undefined);
    assert.ok(onSale.value('ticketing_process_resident_memory_bytes')! > 0);

    const decided = await scrape(reservationMetrics);
    assert.equal(decided.value('ticketing_bookings_decided_total', { status: 'RESERVED', reason: 'none' }), 2);
    assert.equal(decided.series('ticketing_bookings_decided_total', { status: 'REJECTED' }).reduce((sum, sample) => sum + sample.value, 0), 1);
    assert.ok(decided.series('ticketing_bookings_decided_total', { status: 'REJECTED' }).every((sample) => sample.labels.reason !== 'none'), 'a rejection has its reason');
    assert.equal(decided.value('ticketing_reservation_commands_total', { type: 'reserve' }), 3);
    assert.equal(decided.value('ticketing_booking_decision_latency_seconds_count', { type: 'reserve' }), 3);
    assert.ok(decided.value('ticketing_booking_decision_latency_seconds_sum', { type: 'reserve' })! > 0);
    assert.ok(decided.value('ticketing_reservation_slice_commands_count')! >= 1);
    assert.equal(decided.value('ticketing_reservation_slice_commands_sum'), 3);
    const lag = decided.series('ticketing_kafka_consumer_lag');
    assert.ok(lag.length >= 1 && lag.every((sample) => sample.value === 0 && /^\d+$/.test(sample.labels.partition!)), 'lag per partition, caught up');
    assert.ok(decided.value('ticketing_postgres_query_duration_seconds_count', { operation: 'reservation.write-plan', outcome: 'ok' })! >= 1);
    assert.ok(decided.value('ticketing_redis_command_duration_seconds_count', { command: 'publish' })! >= 1);
    assert.equal(decided.value('ticketing_reservation_poison_total'), 0);

    // The holds run out: the sweeper asks, the consumer expires them, the seats come back.
    await waitFor(async () => (await scrape(reservationMetrics)).value('ticketing_bookings_decided_total', { status: 'EXPIRED', reason: 'HOLD_EXPIRED' }) === 2, { timeoutMs: (holdS + 10) * 1000, intervalMs: 200, what: 'two expired holds' });
    const expired = await scrape(reservationMetrics);
    assert.ok(expired.value('ticketing_holds_expiry_requested_total')! >= 2);
    assert.equal(expired.value('ticketing_booking_decision_latency_seconds_count', { type: 'expire' }), 2);
    await waitFor(async () => (await scrape(ticketingMetrics)).value('ticketing_event_seats_available', { event_id: eventId }) === 10, { timeoutMs: 10_000, intervalMs: 250, what: 'seats back on sale' });
  } finally {
    for (const stream of streams) stream.close();
  }
});
