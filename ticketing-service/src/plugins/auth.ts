import type { FastifyReply, FastifyRequest } from 'fastify';
import { createVerifier, TokenError } from 'fast-jwt';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { HttpError } from './errors.ts';

// Bearer tokens: HS256 JWTs signed with JWT_SECRET, claims `sub` (user id) and `role`
// (`organizer` or `buyer`). SSE routes also accept `?access_token=`, because a browser's
// EventSource cannot set headers. Verified tokens are cached (fast-jwt) so a client that
// sends the same token thousands of times pays for the HMAC once.

export type Role = 'organizer' | 'buyer';

export interface Principal {
  readonly id: string;
  readonly role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const userIdPattern = /^[A-Za-z0-9._@:-]{1,128}$/;

export function createAuthenticator(options: { secret: string }) {
  const verify = createVerifier({ key: options.secret, algorithms: ['HS256'], cache: 10_000, cacheTTL: 60_000 });

  const principalOf = (token: string): Principal => {
    let claims: { sub?: unknown; role?: unknown };
    try {
      claims = verify(token) as typeof claims;
    } catch (error) {
      if (error instanceof TokenError && error.code === TokenError.codes.expired) {
        throw new HttpError(401, ErrorCode.TOKEN_EXPIRED, 'Token has expired');
      }
      throw new HttpError(401, ErrorCode.TOKEN_INVALID, 'Token is not valid');
    }
    if (typeof claims.sub !== 'string' || !userIdPattern.test(claims.sub) || (claims.role !== 'organizer' && claims.role !== 'buyer')) {
      throw new HttpError(401, ErrorCode.TOKEN_INVALID, 'Token must carry `sub` and a `role` of organizer or buyer');
    }
    return { id: claims.sub, role: claims.role };
  };

  const tokenOf = (request: FastifyRequest, allowQuery: boolean): string | undefined => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
      if (!match) throw new HttpError(401, ErrorCode.TOKEN_INVALID, 'Authorization must be `Bearer <token>`');
      return match[1];
    }
    if (allowQuery) {
      const query = request.query as Record<string, unknown> | undefined;
      if (typeof query?.access_token === 'string') return query.access_token;
    }
    return undefined;
  };

  // A preHandler that admits only the given roles (any role when none are given).
  return function authenticate(roles: readonly Role[] = [], options: { allowQueryToken?: boolean } = {}) {
    return async (request: FastifyRequest, _reply: FastifyReply) => {
      const token = tokenOf(request, options.allowQueryToken ?? false);
      if (!token) throw new HttpError(401, ErrorCode.UNAUTHENTICATED, 'Send `Authorization: Bearer <token>`');
      const principal = principalOf(token);
      if (roles.length > 0 && !roles.includes(principal.role)) {
        throw new HttpError(403, ErrorCode.FORBIDDEN, `This action needs the ${roles.join(' or ')} role`);
      }
      request.principal = principal;
    };
  };
}

export type Authenticate = ReturnType<typeof createAuthenticator>;
