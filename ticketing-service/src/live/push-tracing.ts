import type { BookingView } from '@ticketing/shared/domain/booking';
import {
  BOOKING_ID,
  BOOKING_STATUS,
  contextFromTraceparent,
  EVENT_ID,
  SpanKind,
  startSpan,
  tracingEnabled,
  type Span,
} from '@ticketing/shared/telemetry/tracing';

// The last hop of a booking's trace: the SSE message that tells its owner the outcome. The
// reservation service puts each decision's trace context into the Pub/Sub update
// (EventUpdate.traces), so this span is a child of that decision, in the booking's trace.
export function startPushSpan(view: BookingView, traceparent: string | undefined): Span | undefined {
  if (!tracingEnabled()) return undefined;
  const parent = contextFromTraceparent(traceparent);
  if (!parent) return undefined;
  return startSpan('sse send booking', {
    kind: SpanKind.PRODUCER,
    attributes: { [BOOKING_ID]: view.id, [EVENT_ID]: view.eventId, [BOOKING_STATUS]: view.status, 'sse.event': 'booking' },
  }, parent);
}
