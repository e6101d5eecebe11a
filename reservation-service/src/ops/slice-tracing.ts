import type { IncomingRecord } from '@ticketing/shared/messaging/kafka';
import type { Command } from '@ticketing/shared/messaging/messages';
import {
  BOOKING_ID,
  BOOKING_REASON,
  BOOKING_STATUS,
  COMMAND_TYPE,
  context,
  endSpan,
  EVENT_ID,
  extractHeaders,
  MESSAGING_BATCH_COUNT,
  MESSAGING_CONSUMER_GROUP,
  MESSAGING_DESTINATION,
  MESSAGING_KAFKA_OFFSET,
  MESSAGING_OPERATION_NAME,
  MESSAGING_OPERATION_TYPE,
  MESSAGING_PARTITION,
  MESSAGING_SYSTEM,
  ROOT_CONTEXT,
  sampledSpanContext,
  SECTION,
  SpanKind,
  startSpan,
  SUBSECTION,
  trace,
  traceparentOf,
  tracingEnabled,
  type Link,
  type Span,
} from '@ticketing/shared/telemetry/tracing';
import type { DecideBatchResult } from '../reservations/decide-batch.ts';

// Traces of a slice (docs/observability.md, "One booking, one trace"):
//
//  - the slice span `process <topic>` covers deciding, persisting, projecting and committing
//    the slice; the Postgres and Redis spans are its children. It LINKS to every command's
//    producer span, and its parent is the first (sampled) command's producer span: the shared work has
//    one parent, and under light load (a slice of one) that makes a booking's trace whole.
//  - each booking command gets its own span `decide <type>` in that booking's trace (child of
//    its producer span), linked to the slice span, with the outcome as attributes. Its context
//    travels on in the Pub/Sub update, and the SSE push becomes its child.

export interface SliceTrace {
  // Decision span context by booking id, for EventUpdate.traces.
  readonly traces: ReadonlyMap<string, string>;
  run<T>(work: () => Promise<T>): Promise<T>;
  finish(result: DecideBatchResult | undefined, error?: unknown): void;
}

export interface DecodedRecord {
  readonly record: IncomingRecord;
  readonly command: Command;
}

export function traceSlice(options: { topic: string; groupId: string; partition: number; decoded: readonly DecodedRecord[] }): SliceTrace | undefined {
  if (!tracingEnabled() || options.decoded.length === 0) return undefined;
  const messaging = {
    [MESSAGING_SYSTEM]: 'kafka',
    [MESSAGING_DESTINATION]: options.topic,
    [MESSAGING_PARTITION]: String(options.partition),
    [MESSAGING_CONSUMER_GROUP]: options.groupId,
  };
  const parents = options.decoded.map(({ record }) => extractHeaders(record.headers));
  const links: Link[] = [];
  parents.forEach((parent, index) => {
    const linked = sampledSpanContext(parent);
    const command = options.decoded[index]!.command;
    if (linked) links.push({ context: linked, attributes: 'bookingId' in command ? { [BOOKING_ID]: command.bookingId } : {} });
  });
  // The first sampled command's context; if none is sampled the first one's, so the slice is
  // dropped with its bookings rather than sampled again as a trace of its own.
  const sliceParent = parents.find((parent) => sampledSpanContext(parent) !== undefined) ?? parents.find((parent) => trace.getSpanContext(parent) !== undefined) ?? ROOT_CONTEXT;
  const slice = startSpan(`process ${options.topic}`, {
    kind: SpanKind.CONSUMER,
    links,
    attributes: {
      ...messaging,
      [MESSAGING_OPERATION_NAME]: 'process',
      [MESSAGING_OPERATION_TYPE]: 'process',
      [MESSAGING_BATCH_COUNT]: options.decoded.length,
      'ticketing.slice.first_offset': options.decoded[0]!.record.offset,
      'ticketing.slice.last_offset': options.decoded.at(-1)!.record.offset,
    },
  }, sliceParent);

  const decisions: Array<{ bookingId: string; span: Span }> = [];
  const traces = new Map<string, string>();
  options.decoded.forEach(({ record, command }, index) => {
    if (!('bookingId' in command) || sampledSpanContext(parents[index]!) === undefined) return;
    const span = startSpan(`decide ${command.type}`, {
      kind: SpanKind.INTERNAL,
      links: [{ context: slice.spanContext() }],
      attributes: {
        ...messaging,
        [MESSAGING_KAFKA_OFFSET]: Number(record.offset),
        [BOOKING_ID]: command.bookingId,
        [EVENT_ID]: command.eventId,
        [SECTION]: command.section,
        [SUBSECTION]: command.subsection,
        [COMMAND_TYPE]: command.type,
      },
    }, parents[index]!);
    decisions.push({ bookingId: command.bookingId, span });
    const traceparent = traceparentOf(span);
    if (traceparent) traces.set(command.bookingId, traceparent);
  });

  return {
    traces,
    run: (work) => context.with(trace.setSpan(sliceParent, slice), work),
    finish(result, error) {
      const outcomes = new Map(result?.decisions.map((decision) => [decision.bookingId, decision]));
      for (const { bookingId, span } of decisions) {
        const outcome = outcomes.get(bookingId);
        if (outcome) span.setAttributes({ [BOOKING_STATUS]: outcome.status, ...(outcome.reason ? { [BOOKING_REASON]: outcome.reason } : {}) });
        // No new state: a replay, an ignored command, or the slice was given up.
        else span.setAttribute('ticketing.decision.changed', false);
        endSpan(span, error);
      }
      if (result) {
        slice.setAttributes({
          'ticketing.slice.inserted': result.inserted,
          'ticketing.slice.updated': result.updated,
          'ticketing.slice.replayed': result.replayed,
          'ticketing.slice.conflicts': result.conflicts,
        });
      } else if (error === undefined) {
        slice.setAttribute('ticketing.slice.abandoned', true);
      }
      endSpan(slice, error);
    },
  };
}
