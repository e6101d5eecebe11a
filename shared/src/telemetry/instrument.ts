import { loadTelemetryConfig } from '../config.ts';

// The first thing a service process runs, before any of its own modules are loaded:
//
//   node --import @ticketing/shared/telemetry/instrument ticketing-service/src/main.ts
//
// Instrumentation patches libraries as they are loaded, so it must be in place before the
// service imports fastify, pg or ioredis. With OTEL_EXPORTER_OTLP_ENDPOINT empty (the
// default) it does nothing else: the SDK is not even loaded, and tracing costs nothing.
const settings = loadTelemetryConfig();
if (settings.otlpEndpoint !== '') {
  const { startTracing } = await import('./sdk.ts');
  startTracing(settings);
}
