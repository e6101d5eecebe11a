import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

// The reservation service has no API, only what an orchestrator and Prometheus need:
// GET /health/live, GET /health/ready (every dependency answered) and GET /metrics.
export function createOpsServer(options: { registry: Registry; ready: () => Promise<Record<string, boolean>> }): Server {
  return createServer((request, response) => {
    const reply = (status: number, body: string, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (request.method !== 'GET') return reply(405, JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: 'Only GET is supported' } }));
    switch (request.url) {
      case '/health/live':
        return reply(200, JSON.stringify({ status: 'ok' }));
      case '/health/ready':
        return void options.ready().then(
          (checks) => reply(Object.values(checks).every(Boolean) ? 200 : 503, JSON.stringify({ status: Object.values(checks).every(Boolean) ? 'ok' : 'unavailable', checks })),
          () => reply(503, JSON.stringify({ status: 'unavailable' })),
        );
      case '/metrics':
        return void options.registry.metrics().then((text) => reply(200, text, options.registry.contentType));
      default:
        return reply(404, JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Not found' } }));
    }
  });
}
