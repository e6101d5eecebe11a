import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';

// What the services' own code needs from OpenTelemetry: the API only (the SDK is started by
// instrument.ts, before any app code, and only when OTEL_EXPORTER_OTLP_ENDPOINT is set), the
// attribute names we add to the semantic conventions, and the few helpers that carry a
// booking's trace across Kafka and Redis Pub/Sub (docs/observability.md).
//
// With tracing off every helper returns before touching the API: no span objects, no header
// writes, nothing on the accept path but a boolean check.

export { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span };

// Our attributes, beside the semantic conventions' http.*, db.* and messaging.*.
export const BOOKING_ID = 'booking.id';
export const EVENT_ID = 'event.id';
export const SECTION = 'ticketing.section';
export const SUBSECTION = 'ticketing.subsection';
export const COMMAND_TYPE = 'ticketing.command.type';
export const BOOKING_STATUS = 'booking.status';
export const BOOKING_REASON = 'booking.reason';

// Messaging semantic conventions (v1.3x, still "development": copied, not imported from the
// incubating entry point, as the OpenTelemetry docs recommend).
export const MESSAGING_SYSTEM = 'messaging.system';
export const MESSAGING_DESTINATION = 'messaging.destination.name';
export const MESSAGING_PARTITION = 'messaging.destination.partition.id';
export const MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const MESSAGING_BATCH_COUNT = 'messaging.batch.message_count';
export const MESSAGING_CONSUMER_GROUP = 'messaging.consumer.group.name';
export const MESSAGING_KAFKA_KEY = 'messaging.kafka.message.key';
export const MESSAGING_KAFKA_OFFSET = 'messaging.kafka.offset';

export const tracerName = '@ticketing/services';
const tracer = trace.getTracer(tracerName);

let running: { readonly shutdown: () => Promise<void> } | undefined;

// Called by the SDK set-up once spans are exported (shared/src/telemetry/sdk.ts).
export function markTracingStarted(shutdown: () => Promise<void>): void {
  running = { shutdown };
}

export function tracingEnabled(): boolean {
  return running !== undefined;
}

// Exports what is still buffered; called last in a service's shutdown.
export async function stopTracing(): Promise<void> {
  const current = running;
  running = undefined;
  await current?.shutdown();
}

export function startSpan(name: string, options: { kind?: SpanKind; attributes?: Attributes; links?: Link[]; startTime?: number }, parent: Context = context.active()): Span {
  return tracer.startSpan(name, options, parent);
}

export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

// Pino fields for the span active on this async path, so a log line leads to its trace.
export function activeTraceFields(): { trace_id?: string; span_id?: string } {
  if (running === undefined) return {};
  const spanContext = trace.getSpan(context.active())?.spanContext();
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

// Kafka headers: the producer span's context is written into each record when it is queued,
// so every record carries its own booking's trace even though records are sent in batches.
export function injectHeaders(span: Span, headers: Readonly<Record<string, string>>): Record<string, string> {
  const carrier = { ...headers };
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier;
}

export function extractHeaders(headers: Readonly<Record<string, string>>): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

// The sampled span context a carrier holds, for links (an unsampled one leads nowhere).
export function sampledSpanContext(parent: Context): SpanContext | undefined {
  const spanContext = trace.getSpanContext(parent);
  return spanContext && trace.isSpanContextValid(spanContext) && (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0 ? spanContext : undefined;
}

// W3C `traceparent` of a sampled span: the compact form carried in Pub/Sub EventUpdates.
export function traceparentOf(span: Span): string | undefined {
  const spanContext = span.spanContext();
  if (!trace.isSpanContextValid(spanContext) || (spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return `00-${spanContext.traceId}-${spanContext.spanId}-01`;
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function contextFromTraceparent(traceparent: string | undefined): Context | undefined {
  const match = traceparent === undefined ? null : traceparentPattern.exec(traceparent);
  if (!match) return undefined;
  const spanContext: SpanContext = { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16), isRemote: true };
  return trace.isSpanContextValid(spanContext) ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : undefined;
}

// A span that covers `work` and is active during it; the span records the error if it throws.
export async function inSpan<T>(span: Span, parent: Context, work: () => Promise<T>): Promise<T> {
  try {
    const result = await context.with(trace.setSpan(parent, span), work);
    span.end();
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}
