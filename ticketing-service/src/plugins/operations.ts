import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => Promise<Record<string, boolean>>;

const healthSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } },
} as const;

// Liveness says the process is running; readiness says it can do its job (Postgres, Redis and
// Kafka answered). An orchestrator restarts on the first and routes traffic on the second.
// Probes must answer while the service sheds load: they opt out of under-pressure.
const notShed = { pressureHandler: () => undefined };

export function registerOperations(app: FastifyInstance, options: { ready: ReadinessCheck; registry: Registry }): void {
  app.get('/health/live', { config: notShed, schema: { tags: ['operations'], response: { 200: healthSchema } } }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { config: notShed, schema: { tags: ['operations'], response: { 200: healthSchema, 503: healthSchema } } }, async (_request, reply) => {
    const checks = await options.ready();
    const ok = Object.values(checks).every(Boolean);
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks };
  });

  app.get('/metrics', { config: notShed, schema: { tags: ['operations'], hide: true } }, async (_request, reply) => {
    reply.type(options.registry.contentType);
    return options.registry.metrics();
  });
}
