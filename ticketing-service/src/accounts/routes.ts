import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { v7 as uuidv7 } from 'uuid';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { isUuid } from '@ticketing/shared/domain/ids';
import type { Authenticate } from '../plugins/auth.ts';
import { errorResponses } from '../bookings/schemas.ts';
import { plainText } from '../schema-types.ts';
import { decoyHash, hashPassword, verifyPassword } from './passwords.ts';
import type { UserStore } from './user-store.ts';

export interface AccountRoutesOptions {
  readonly authenticate: Authenticate;
  readonly users: UserStore;
  readonly signToken: (claims: { sub: string; role: 'buyer' | 'organizer'; expiresInS: number }) => string;
  readonly sessionTtlS: number;
  readonly clock: () => number;
  // Login attempts per client address per minute (brute-force protection).
  readonly loginRateLimitMax: number;
}

const credentials = {
  email: plainText({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: 8, maxLength: 128 }),
};

const userView = Type.Object({ id: Type.String(), email: Type.Union([Type.String(), Type.Null()]), role: Type.String(), createdAt: Type.Union([Type.String(), Type.Null()]) });

// Accounts are optional for the booking path: the API authorizes on the bearer token alone, so
// any identity provider that can mint the same HS256 tokens works. These routes are the
// built-in one. New accounts are buyers; `npm run grant-organizer -- --email …` promotes one.
export const accountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async (app, options) => {
  app.post('/users', {
    schema: {
      tags: ['accounts'],
      summary: 'Sign up as a buyer',
      body: Type.Object(credentials, { additionalProperties: false }),
      response: { 201: userView, ...errorResponses },
    },
  }, async (request, reply) => {
    const user = await options.users.create({ id: uuidv7(), email: request.body.email, passwordHash: await hashPassword(request.body.password), role: 'buyer' });
    if (!user) throw new DomainError(ErrorCode.EMAIL_TAKEN, 'An account with this email already exists');
    reply.code(201);
    return { id: user.id, email: user.email, role: user.role, createdAt: user.createdAt.toISOString() };
  });

  app.post('/sessions', {
    config: { rateLimit: { max: options.loginRateLimitMax, timeWindow: 60_000, keyGenerator: (request: { ip: string }) => `login:${request.ip}` } },
    schema: {
      tags: ['accounts'],
      summary: 'Log in; the token goes in `Authorization: Bearer <token>`',
      body: Type.Object({ email: plainText({ maxLength: 254 }), password: Type.String({ maxLength: 128 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ token: Type.String(), tokenType: Type.Literal('Bearer'), expiresAt: Type.String(), user: userView }), ...errorResponses },
    },
  }, async (request) => {
    const user = await options.users.findByEmail(request.body.email);
    const valid = await verifyPassword(request.body.password, user?.passwordHash ?? decoyHash);
    if (!user || !valid) throw new DomainError(ErrorCode.INVALID_CREDENTIALS, 'Email or password is wrong');
    const role = user.role as 'buyer' | 'organizer';
    return {
      token: options.signToken({ sub: user.id, role, expiresInS: options.sessionTtlS }),
      tokenType: 'Bearer' as const,
      expiresAt: new Date(options.clock() + options.sessionTtlS * 1000).toISOString(),
      user: { id: user.id, email: user.email, role, createdAt: user.createdAt.toISOString() },
    };
  });

  app.get('/me', {
    preHandler: options.authenticate(),
    schema: { tags: ['accounts'], summary: 'Who the bearer token says you are', security: [{ bearer: [] }], response: { 200: userView, ...errorResponses } },
  }, async (request) => {
    const principal = request.principal!;
    // Tokens minted elsewhere (npm run token, another identity provider) have no account row.
    const user = isUuid(principal.id) ? await options.users.findById(principal.id) : null;
    return { id: principal.id, email: user?.email ?? null, role: principal.role, createdAt: user?.createdAt.toISOString() ?? null };
  });
};
