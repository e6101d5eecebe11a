import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError, loadConfig, loadTelemetryConfig } from '../config.ts';
import { defaultServiceName } from './sdk.ts';

// The --import entry point: off by default (nothing registered with OpenTelemetry, no SDK
// loaded), on with an OTLP endpoint; and the settings it reads.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

// What a process started like a service sees: is tracing on, and did anything register with
// the OpenTelemetry API (its globals live under this symbol).
const probe = `
  const { tracingEnabled } = await import('@ticketing/shared/telemetry/tracing');
  const registered = Object.keys(globalThis[Symbol.for('opentelemetry.js.api.1')] ?? {}).filter((key) => key !== 'version').sort();
  console.log(JSON.stringify({ enabled: tracingEnabled(), registered }));
`;

async function startLikeAService(env: Record<string, string>) {
  const { stdout } = await run(process.execPath, ['--import', '@ticketing/shared/telemetry/instrument', '--input-type=module', '-e', probe], {
    cwd: root,
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: '', ...env },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { enabled: boolean; registered: string[] };
}

test('without an endpoint nothing is started or registered', async () => {
  assert.deepEqual(await startLikeAService({}), { enabled: false, registered: [] });
});

test('with an endpoint the SDK registers its tracer provider, context manager and propagator', async () => {
  const started = await startLikeAService({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
  assert.equal(started.enabled, true);
  for (const global of ['context', 'propagation', 'trace']) assert.ok(started.registered.includes(global), `${global} in ${started.registered.join(',')}`);
});

test('telemetry settings: off by default, validated, and part of the whole configuration', () => {
  assert.deepEqual({ ...loadTelemetryConfig({}) }, { otlpEndpoint: '', serviceName: '', sampleRatio: 1 });
  assert.deepEqual({ ...loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/', OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER_ARG: '0.25' }) }, {
    otlpEndpoint: 'http://jaeger:4318',
    serviceName: 'x',
    sampleRatio: 0.25,
  });
  assert.throws(() => loadTelemetryConfig({ OTEL_TRACES_SAMPLER_ARG: '2' }), (error) => error instanceof ConfigError && /OTEL_TRACES_SAMPLER_ARG must be between 0 and 1/.test(error.message));
  assert.throws(() => loadTelemetryConfig({ OTEL_TRACES_SAMPLER_ARG: 'half' }), /must be a number/);
  assert.throws(() => loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger 4318' }), /must be a URL/);
  assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).telemetry.otlpEndpoint, 'http://127.0.0.1:4318');
});

test('the service name defaults to the workspace the entry point is in', () => {
  assert.equal(defaultServiceName(`${root}ticketing-service/src/main.ts`), 'ticketing-service');
  assert.equal(defaultServiceName(`${root}reservation-service/src/main.ts`), 'reservation-service');
  assert.equal(defaultServiceName('/somewhere/else.ts'), 'ticketing');
});
