import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

// OpenAPI is generated from the route schemas, so the document cannot drift from the code.
export async function registerDocs(app: FastifyInstance, options: { publicUrl: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ticketing API',
        version: '1.0.0',
        description: 'Book seats for high-demand on-sales. POST /bookings answers 202 once the request is durably queued; follow the outcome on GET /bookings/:id or its SSE stream. Errors are `{ "error": { "code", "message" } }`.',
      },
      servers: [{ url: options.publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [
        { name: 'events', description: 'Events, their layout, counts and seat maps' },
        { name: 'bookings', description: 'Asking for seats and reading the outcome' },
        { name: 'live', description: 'Server-Sent Events streams' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
