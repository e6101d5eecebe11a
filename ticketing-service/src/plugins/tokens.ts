import { createSigner } from 'fast-jwt';
import type { Role } from './auth.ts';

// Issues the bearer tokens the API accepts. The API itself never issues tokens in the core
// (identity is the deployer's concern); this serves `npm run token`, the demo and tests.
export function createTokenSigner(secret: string) {
  const sign = createSigner({ key: secret, algorithm: 'HS256' });
  return (claims: { sub: string; role: Role; expiresInS?: number }): string =>
    sign({ sub: claims.sub, role: claims.role, exp: Math.floor(Date.now() / 1000) + (claims.expiresInS ?? 12 * 3600) });
}
