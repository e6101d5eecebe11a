import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from '@opentelemetry/api';
import { createLogger } from './logger.ts';
import { markTracingStarted, stopTracing } from './tracing.ts';

// What a log line carries (the active span's ids, so it leads to its trace) and what it never
// carries (credentials, wherever they sit in the logged object).

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination }) };
}

// The SDK's context manager in a dozen lines, so this test needs no SDK.
function asyncLocalContextManager(): ContextManager {
  const storage = new AsyncLocalStorage<Context>();
  const manager: ContextManager = {
    active: () => storage.getStore() ?? ROOT_CONTEXT,
    with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
    bind: (_ctx, target) => target,
    enable: () => manager,
    disable: () => manager,
  };
  return manager;
}

test('a line logged inside a span carries its trace_id and span_id; outside one, none', async () => {
  const { lines, logger } = capture();
  context.setGlobalContextManager(asyncLocalContextManager());
  markTracingStarted(async () => {});
  try {
    const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    await context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), async () => {
      await Promise.resolve();
      logger.child({ request_id: 'r-1' }).warn('inside');
    });
    logger.warn('outside');
    assert.equal(lines[0]!.trace_id, spanContext.traceId);
    assert.equal(lines[0]!.span_id, spanContext.spanId);
    assert.equal(lines[0]!.request_id, 'r-1');
    assert.equal('trace_id' in lines[1]!, false);
  } finally {
    await stopTracing();
    context.disable();
  }
  logger.warn('tracing off');
  assert.equal('trace_id' in lines[2]!, false);
});

test('credentials are redacted wherever the code puts them', () => {
  const { lines, logger } = capture();
  const secrets = ['hunter2-password', 'Bearer eyJhbGciOi.secret.sig', 'tok_4242_payment', 'sse-access-token', 'sasl-password', 'jwt-secret-value'];
  logger.info({ password: secrets[0], token: secrets[3], access_token: secrets[3], paymentToken: secrets[2], secret: secrets[5] }, 'top level');
  logger.info({ req: { headers: { authorization: secrets[1], cookie: secrets[1] } } }, 'a request');
  logger.info({ headers: { authorization: secrets[1] } }, 'headers');
  logger.info({ command: { type: 'pay', paymentToken: secrets[2] }, user: { password: secrets[0] }, sasl: { password: secrets[4] } }, 'nested');
  logger.info({ upstream: { headers: { authorization: secrets[1] } }, kafka: { sasl: { password: secrets[4] } }, auth: { jwtSecret: secrets[5] } }, 'deeper');
  const written = JSON.stringify(lines);
  for (const secret of secrets) assert.equal(written.includes(secret), false, `${secret} reached a log line`);
  assert.equal(lines[3]!.command && (lines[3]!.command as Record<string, unknown>).type, 'pay', 'the rest of the object is kept');
});
