import { Pool } from 'undici';
import { createTokenSigner } from '../../ticketing-service/src/plugins/tokens.ts';

// The load generator's HTTP client: one undici Pool of keep-alive connections per target, so
// connection set-up never shows up in a latency and the generator spends its CPU on requests,
// not on sockets. Tokens are signed once per user and reused, as a browser would.

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly retryAfterS: number | undefined;
}

export interface StatusResult {
  readonly status: number;
  // The error code of a refusal ({ error: { code } }); undefined for 2xx.
  readonly code: string | undefined;
  readonly retryAfterS: number | undefined;
}

export interface HttpClient {
  readonly url: string;
  readonly pool: Pool;
  // The hot path of the load generator: a 2xx body is discarded unread, so the generator
  // spends no CPU parsing what it does not use.
  postForStatus(path: string, body: unknown, token: string): Promise<StatusResult>;
  post<T = unknown>(path: string, body: unknown, token?: string): Promise<HttpResult<T>>;
  get<T = unknown>(path: string, token?: string): Promise<HttpResult<T>>;
  close(): Promise<void>;
}

const headersTimeoutMs = 60_000;
const bodyTimeoutMs = 60_000;

export function createHttpClient(url: string, options: { connections: number }): HttpClient {
  const pool = new Pool(url, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: headersTimeoutMs,
    bodyTimeout: bodyTimeoutMs,
  });
  const send = async (method: 'GET' | 'POST', path: string, body: unknown, token: string | undefined): Promise<HttpResult> => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await pool.request({ method, path, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error report
    }
    const retryAfter = response.headers['retry-after'];
    return { status: response.statusCode, body: parsed, retryAfterS: typeof retryAfter === 'string' ? Number(retryAfter) : undefined };
  };
  const headersByToken = new Map<string, Record<string, string>>();
  const jsonHeaders = (token: string) => {
    let headers = headersByToken.get(token);
    if (!headers) headersByToken.set(token, (headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }));
    return headers;
  };
  return {
    url,
    pool,
    async postForStatus(path, body, token) {
      const response = await pool.request({ method: 'POST', path, headers: jsonHeaders(token), body: JSON.stringify(body) });
      const retryAfter = response.headers['retry-after'];
      const retryAfterS = typeof retryAfter === 'string' ? Number(retryAfter) : undefined;
      if (response.statusCode >= 200 && response.statusCode < 300) {
        await response.body.dump();
        return { status: response.statusCode, code: undefined, retryAfterS };
      }
      const text = await response.body.text();
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
      } catch {
        code = undefined;
      }
      return { status: response.statusCode, code, retryAfterS };
    },
    // The caller names the body's type; it is what the API documents, not checked here.
    post: <T>(path: string, body: unknown, token?: string) => send('POST', path, body, token) as Promise<HttpResult<T>>,
    get: <T>(path: string, token?: string) => send('GET', path, undefined, token) as Promise<HttpResult<T>>,
    close: () => pool.close(),
  };
}

export interface Tokens {
  buyer(user: string): string;
  organizer(user: string): string;
}

export function createTokens(jwtSecret: string): Tokens {
  const sign = createTokenSigner(jwtSecret);
  const buyers = new Map<string, string>();
  return {
    buyer(user) {
      let token = buyers.get(user);
      if (!token) buyers.set(user, (token = sign({ sub: user, role: 'buyer', expiresInS: 6 * 3600 })));
      return token;
    },
    organizer: (user) => sign({ sub: user, role: 'organizer', expiresInS: 6 * 3600 }),
  };
}
