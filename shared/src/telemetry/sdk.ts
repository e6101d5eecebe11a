import { realpathSync } from 'node:fs';
import { register as registerLoader } from 'node:module';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { register as registerEsmHooks, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';
import type { TelemetryConfig } from '../config.ts';
import { markTracingStarted } from './tracing.ts';

// The OpenTelemetry SDK, loaded by instrument.ts only when tracing is on. Everything is set
// explicitly here rather than from OTEL_* variables, so the configuration module stays the
// one place settings come from.
//
// Why an ESM loader hook: the services are ES modules, and a CommonJS package they `import`
// is loaded without passing through `require`, where require-in-the-middle patches. pg is
// still caught (its entry `require`s the files that get patched), ioredis is not: without the
// hook there are no Redis spans. import-in-the-middle's synchronous hook (module.registerHooks,
// in-thread, Node >= 24.11.1) wraps just the packages listed here.
//
// Kafka is traced by shared/src/messaging/kafka.ts, not by @opentelemetry/instrumentation-kafkajs:
// our producer batches records itself, and that instrumentation would start each record's
// span in the flusher's context and overwrite the traceparent the record got when it was queued.

const esmHookedPackages = ['ioredis', 'pg', 'pg-pool'];
// Routes that answer probes and scrapes every few seconds: no traces for them.
const untracedPaths = ['/health/', '/metrics'];
// Query parameters that may carry credentials (SSE streams accept ?access_token=).
const redactedQueryParams = ['access_token', 'token', 'sig', 'Signature', 'AWSAccessKeyId', 'X-Goog-Signature'];

const exportLimits = {
  // Spans waiting for export; beyond it new spans are dropped (counted by the SDK), never queued
  // without bound. A sold-out minute at ratio 1 produces ~10 spans per booking.
  maxQueueSize: 16_384,
  maxExportBatchSize: 1024,
  scheduledDelayMillis: 1000,
  exportTimeoutMillis: 10_000,
};
// A slice span links to every command it decides; RESERVATION_BATCH_MAX is at most 10,000.
const linkCountLimit = 10_000;

export function defaultServiceName(entry = process.argv[1]): string {
  if (!entry) return 'ticketing';
  let path = entry;
  try {
    path = realpathSync(entry);
  } catch {
    // a path that does not exist (a REPL, -e): keep it as given
  }
  return /(?:^|\/)([a-z]+-service)\//.exec(path)?.[1] ?? 'ticketing';
}

export function startTracing(settings: TelemetryConfig): void {
  // engines requires a Node with synchronous hooks; the off-thread loader is the fallback.
  if (supportsSyncHooks()) registerEsmHooks({ include: esmHookedPackages });
  else registerLoader('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: esmHookedPackages } });
  const serviceName = settings.serviceName || defaultServiceName();
  const isUntraced = (url: string | undefined) => url !== undefined && untracedPaths.some((path) => url.startsWith(path));

  const sdk = new NodeSDK({
    serviceName,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${settings.otlpEndpoint}/v1/traces`, timeoutMillis: exportLimits.exportTimeoutMillis }), ...exportLimits })],
    spanLimits: { linkCountLimit },
    // Traces only: metrics are Prometheus (/metrics), logs are pino lines on stdout.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => isUntraced(request.url),
        redactedQueryParamsServer: redactedQueryParams,
        redactedQueryParams,
        requireParentforOutgoingSpans: true,
      }),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        ignorePaths: (route) => isUntraced(route.url),
        // The request and handler spans are enough; a span per hook would triple the spans of
        // every booking for little insight.
        instrumentHooks: false,
        requestHook: (span, request) => {
          span.updateName(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`);
          // The query string may hold ?access_token=.
          span.setAttribute('url.path', request.url.split('?', 1)[0]!);
          // The id echoed in x-request-id and logged as request_id: a client's report finds its trace.
          span.setAttribute('ticketing.request.id', String(request.id));
        },
      }),
      // Only inside a trace: pool housekeeping and background polls would each start a trace.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      new IORedisInstrumentation({
        requireParentSpan: true,
        // The command and its key; values (booking records, script arguments) stay out of traces.
        dbStatementSerializer: (command, args) => (args.length > 0 && typeof args[0] === 'string' ? `${command} ${args[0]}` : command),
      }),
    ],
  });
  sdk.start();
  markTracingStarted(() => sdk.shutdown());
}
