import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { openSse } from '../../dev/testing/sse-client.ts';
import { createApi, newBookingId, waitFor, type Api } from '../../dev/testing/system.ts';
import { SpanKinds, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';
import { startServiceProcess, type ServiceProcess } from './support/service-process.ts';

// One booking, one trace, across both services, as Jaeger would receive it: both services run
// in processes of their own, started like production (`node --import …/instrument main.ts`),
// exporting OTLP/HTTP to a receiver in this test. The booking's stream is open before the
// reservation service starts, so its outcome can only reach the client through Kafka, the
// decision and Redis Pub/Sub: the path whose trace is checked hop by hop. A second test has
// the consumer decide five bookings in one slice: one slice span linked to five traces.

let environment: TestEnvironment;
let receiver: OtlpReceiver;
let ticketing: ServiceProcess | undefined;
let reservation: ServiceProcess | undefined;
let api: Api;
let eventId: string;

// A long producer linger, so bookings sent together share one Kafka batch (second test).
const serviceEnv = () => ({ ...environment.env, LOG_LEVEL: 'info', KAFKA_PRODUCE_LINGER_MS: '100', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_TRACES_SAMPLER_ARG: '1' });

before(async () => {
  environment = await createTestEnvironment({ partitions: 2 });
  receiver = await startOtlpReceiver();
  ticketing = await startServiceProcess('ticketing', serviceEnv());
  api = createApi(`http://127.0.0.1:${ticketing.port}`, environment.config.auth.jwtSecret);
  const created = await api.request('POST', '/events', {
    token: api.token('trace-organizer', 'organizer'),
    body: { name: 'Traced', sections: [{ name: 'A', subsections: [{ number: 1, rows: 2, seatsPerRow: 5, priceCents: 100 }] }] },
  });
  assert.equal(created.status, 201);
  eventId = created.body.id;
});

after(async () => {
  await ticketing?.stop();
  await reservation?.stop();
  await receiver?.close();
  await environment?.close();
});

function describeSpans(spans: readonly ReceivedSpan[]): string {
  return spans.map((span) => `${span.service} ${span.name} trace=${span.traceId.slice(0, 8)} span=${span.spanId} parent=${span.parentSpanId ?? '-'}`).join('\n');
}

test('a booking is one trace from POST /bookings through Kafka, the decision, Postgres, Redis and Pub/Sub to the SSE push', async () => {
  const buyer = api.token('trace-buyer', 'buyer');
  const bookingId = newBookingId();
  const accepted = await api.request('POST', '/bookings', { token: buyer, body: { id: bookingId, eventId, section: 'A', subsection: 1, quantity: 2 } });
  assert.equal(accepted.status, 202);
  assert.ok(accepted.headers.get('x-request-id'), 'the request id is echoed');
  // The stream authenticates with ?access_token=, which must not reach any span.
  const stream = await openSse(`${api.url}/bookings/${bookingId}/stream?access_token=${encodeURIComponent(buyer)}`);
  try {
    assert.equal(stream.status, 200);
    assert.equal(JSON.parse((await stream.next((message) => message.event === 'booking')).data).status, 'PENDING');
    reservation = await startServiceProcess('reservation', serviceEnv());
    const outcome = await stream.next((message) => message.event === 'booking' && JSON.parse(message.data).status === 'RESERVED', 20_000);
    assert.equal(JSON.parse(outcome.data).id, bookingId);
  } finally {
    stream.close();
  }

  const push = await waitFor(async () => receiver.spans.find((span) => span.name === 'sse send booking' && span.attributes['booking.id'] === bookingId), { timeoutMs: 15_000, what: 'the SSE push span' });
  // Stopping flushes what the exporters still hold.
  await reservation!.stop();

  const trace = receiver.spans.filter((span) => span.traceId === push.traceId);
  const byId = new Map(trace.map((span) => [span.spanId, span]));
  const context = `spans of the booking's trace:\n${describeSpans(trace)}`;
  const one = (predicate: (span: ReceivedSpan) => boolean, what: string) => {
    const found = trace.filter(predicate);
    assert.equal(found.length, 1, `exactly one ${what}\n${context}`);
    return found[0]!;
  };
  const isAncestor = (ancestor: ReceivedSpan, span: ReceivedSpan) => {
    for (let parent = span.parentSpanId; parent !== undefined; parent = byId.get(parent)?.parentSpanId) if (parent === ancestor.spanId) return true;
    return false;
  };

  // Ticketing service: the HTTP server span is the root; Fastify's request span carries the booking.
  const server = one((span) => span.kind === SpanKinds.SERVER && span.attributes['http.request.method'] === 'POST' && span.attributes['http.route'] === '/bookings', 'HTTP server span of POST /bookings');
  assert.equal(server.parentSpanId, undefined, 'POST /bookings starts the trace');
  assert.equal(server.service, 'ticketing-service');
  assert.equal(server.attributes['http.response.status_code'], 202);
  const request = one((span) => span.name === 'POST /bookings' && span.scope === '@fastify/otel', 'Fastify request span');
  assert.equal(request.parentSpanId, server.spanId);
  assert.equal(request.attributes['booking.id'], bookingId);
  assert.equal(request.attributes['event.id'], eventId);
  assert.equal(request.attributes['ticketing.section'], 'A');
  assert.equal(request.attributes['ticketing.subsection'], 1);
  assert.equal(request.attributes['ticketing.request.id'], accepted.headers.get('x-request-id'), 'the echoed request id finds the trace');
  // The booking id is claimed in Redis (ioredis, loaded from ESM, is instrumented).
  const dbSystem = (span: ReceivedSpan) => span.attributes['db.system.name'] ?? span.attributes['db.system'];
  const claim = trace.find((span) => span.service === 'ticketing-service' && dbSystem(span) === 'redis' && /^set /.test(String(span.attributes['db.query.text'])));
  assert.ok(claim && isAncestor(server, claim), `the Redis SET of the booking record under POST /bookings\n${context}`);
  assert.equal(claim.attributes['db.query.text'], `set ${environment.env.REDIS_KEY_PREFIX}booking:${bookingId}`, 'the command and its key, never the value');

  // The Kafka produce: started when the command was queued, in the request's context.
  const produce = one((span) => span.kind === SpanKinds.PRODUCER && span.name === 'send ticketing.commands.v1', 'Kafka producer span');
  assert.equal(produce.service, 'ticketing-service');
  assert.ok(isAncestor(request, produce), 'the produce is inside the request');
  assert.equal(produce.attributes['messaging.system'], 'kafka');
  assert.equal(produce.attributes['messaging.destination.name'], 'ticketing.commands.v1');
  assert.equal(produce.attributes['messaging.kafka.message.key'], `${eventId}:A:1`);

  // Reservation service: the booking's decision is its own span, a child of the produce.
  const decision = one((span) => span.name === 'decide reserve', 'decision span');
  assert.equal(decision.service, 'reservation-service');
  assert.equal(decision.parentSpanId, produce.spanId);
  assert.equal(decision.attributes['booking.id'], bookingId);
  assert.equal(decision.attributes['event.id'], eventId);
  assert.equal(decision.attributes['booking.status'], 'RESERVED');
  assert.equal(decision.attributes['messaging.destination.partition.id'], produce.attributes['messaging.destination.partition.id']);

  // The slice that decided it links to the command's producer context, and the decision links back.
  const slice = one((span) => span.kind === SpanKinds.CONSUMER && span.name === 'process ticketing.commands.v1', 'slice span');
  assert.equal(slice.service, 'reservation-service');
  assert.equal(slice.parentSpanId, produce.spanId, 'a slice of one command is in that booking\'s trace');
  assert.equal(slice.attributes['messaging.batch.message_count'], 1);
  assert.ok(slice.links.some((link) => link.traceId === produce.traceId && link.spanId === produce.spanId && link.attributes['booking.id'] === bookingId), 'the slice links to the produce');
  assert.ok(decision.links.some((link) => link.spanId === slice.spanId), 'the decision links to its slice');

  // The slice's Postgres statement and Redis pipeline (seats, record, Pub/Sub publish).
  const postgres = trace.filter((span) => span.service === 'reservation-service' && dbSystem(span) === 'postgresql');
  assert.ok(postgres.some((span) => isAncestor(slice, span) && span.attributes['db.postgresql.plan'] === 'reservation.write-plan'), `the slice's write statement under the slice\n${context}`);
  const redis = trace.filter((span) => span.service === 'reservation-service' && dbSystem(span) === 'redis');
  assert.ok(redis.some((span) => isAncestor(slice, span) && /^publish/i.test(String(span.name))), `a Redis PUBLISH under the slice\n${context}`);

  // Ticketing service again: the SSE push is a child of the decision, carried in the Pub/Sub update.
  assert.equal(push.service, 'ticketing-service');
  assert.equal(push.parentSpanId, decision.spanId);
  assert.equal(push.attributes['booking.status'], 'RESERVED');

  // Nothing secret left the services in a span.
  const exported = receiver.payloads.join('\n');
  for (const secret of [buyer, buyer.split('.')[2]!]) assert.equal(exported.includes(secret), false, 'a bearer token reached a span');
  const stream_ = receiver.spans.find((span) => span.kind === SpanKinds.SERVER && String(span.attributes['url.path']).endsWith('/stream'));
  assert.ok(stream_, 'the stream request was traced');
  assert.match(String(stream_.attributes['url.query']), /access_token=REDACTED/);

  // The services' logs: no secret in them either.
  const logs = [...ticketing!.lines, ...reservation!.lines];
  assert.ok(logs.length > 0);
  for (const line of logs) assert.equal(line.includes(buyer), false, 'a bearer token reached the logs');
});

test('a slice decides many bookings: its span links to each one, and each booking keeps its own trace', async () => {
  await reservation?.stop();
  // Sent together while no consumer runs, inside one producer linger: one Kafka batch, one slice.
  const ids = Array.from({ length: 5 }, () => newBookingId());
  const answers = await Promise.all(ids.map((id, index) => api.request('POST', '/bookings', {
    token: api.token(`trace-batch-${index}`, 'buyer'),
    body: { id, eventId, section: 'A', subsection: 1, quantity: 1 },
  })));
  assert.deepEqual(answers.map((answer) => answer.status), [202, 202, 202, 202, 202]);
  reservation = await startServiceProcess('reservation', serviceEnv());
  const decisions = await waitFor(async () => {
    const found = ids.map((id) => receiver.spans.find((span) => span.name === 'decide reserve' && span.attributes['booking.id'] === id));
    return found.every(Boolean) ? (found as ReceivedSpan[]) : undefined;
  }, { timeoutMs: 20_000, what: 'five decision spans' });
  await reservation.stop();

  const slices = receiver.spans.filter((span) => span.name === 'process ticketing.commands.v1' && decisions[0]!.links.some((link) => link.spanId === span.spanId));
  assert.equal(slices.length, 1);
  const slice = slices[0]!;
  assert.equal(slice.attributes['messaging.batch.message_count'], 5, describeSpans([slice]));
  assert.equal(slice.links.length, 5);
  const produces = new Map<string, ReceivedSpan>();
  for (const decision of decisions) {
    const produce = receiver.spans.find((span) => span.spanId === decision.parentSpanId);
    assert.ok(produce && produce.kind === SpanKinds.PRODUCER && produce.traceId === decision.traceId, 'each decision is under its own produce');
    produces.set(String(decision.attributes['booking.id']), produce);
    assert.ok(decision.links.some((link) => link.traceId === slice.traceId && link.spanId === slice.spanId), 'each decision links to the slice');
    assert.ok(slice.links.some((link) => link.traceId === produce.traceId && link.spanId === produce.spanId && link.attributes['booking.id'] === decision.attributes['booking.id']), 'the slice links to each produce');
  }
  assert.equal(new Set(decisions.map((decision) => decision.traceId)).size, 5, 'five bookings, five traces');
  // The shared work has one parent: the first command's produce.
  assert.equal(slice.parentSpanId, slice.links[0]!.spanId);
  assert.equal(slice.traceId, slice.links[0]!.traceId);
});
