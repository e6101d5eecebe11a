import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { v7 as uuidv7 } from 'uuid';
import { startReservationService, type ReservationService } from '../../reservation-service/src/service.ts';
import { startTicketingService, type TicketingService } from '../../ticketing-service/src/service.ts';
import { createTokenSigner } from '../../ticketing-service/src/plugins/tokens.ts';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import type { TestEnvironment } from './environment.ts';

// Runs the real services against a TestEnvironment: the ticketing service in this process
// (so tests can reach its Fastify instance), the reservation service in this process or as
// child processes that a test may kill -9.

export interface ApiResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export interface Api {
  readonly url: string;
  token(sub: string, role: 'buyer' | 'organizer'): string;
  request<T = any>(method: string, path: string, options?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<ApiResponse<T>>;
}

export function createApi(url: string, jwtSecret: string): Api {
  const sign = createTokenSigner(jwtSecret);
  return {
    url,
    token: (sub, role) => sign({ sub, role }),
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (metrics, docs)
      }
      return { status: response.status, headers: response.headers, body: parsed as never };
    },
  };
}

export async function startTicketing(environment: TestEnvironment, overrides: Record<string, string> = {}, logger?: Logger): Promise<{ service: TicketingService; api: Api }> {
  const config = environment.configWith(overrides);
  const service = await startTicketingService(config, logger ?? environment.logger.child({ service: 'ticketing' }));
  return { service, api: createApi(service.url, config.auth.jwtSecret) };
}

export async function startReservation(environment: TestEnvironment, overrides: Record<string, string> = {}): Promise<ReservationService> {
  return startReservationService(environment.configWith(overrides), environment.logger.child({ service: 'reservation' }), {
    onFatal: (error) => {
      throw error;
    },
  });
}

const reservationMain = fileURLToPath(new URL('../../reservation-service/src/main.ts', import.meta.url));
const ticketingMain = fileURLToPath(new URL('../../ticketing-service/src/main.ts', import.meta.url));

export interface ChildService {
  readonly process: ChildProcess;
  // The ops port (/health, /metrics) the child reported when it started.
  readonly port: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

// A reservation-service process of its own, started exactly as production starts it.
export function spawnReservation(environment: TestEnvironment, overrides: Record<string, string> = {}): Promise<ChildService> {
  return spawnService(environment, reservationMain, '"reservation service started"', overrides);
}

// A ticketing-service process of its own, for tests that signal or kill it.
export async function spawnTicketing(environment: TestEnvironment, overrides: Record<string, string> = {}): Promise<ChildService & { api: Api }> {
  const child = await spawnService(environment, ticketingMain, '"ticketing service listening"', overrides);
  const config = environment.configWith(overrides);
  return { ...child, api: createApi(`http://127.0.0.1:${child.port}`, config.auth.jwtSecret) };
}

async function spawnService(environment: TestEnvironment, main: string, startedMessage: string, overrides: Record<string, string>): Promise<ChildService> {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', '--import', '@ticketing/shared/telemetry/instrument', main], {
    env: { ...process.env, ...environment.env, LOG_LEVEL: 'info', ...overrides },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      const started = output.split('\n').find((line) => line.includes(startedMessage));
      if (started) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        const parsed = JSON.parse(started) as { port?: number; url?: string };
        resolve(parsed.port ?? Number(new URL(parsed.url!).port));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${main} exited with ${code} before starting:\n${output}`)));
  });
  return {
    process: child,
    port,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}

export function newBookingId(): string {
  return uuidv7();
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, options: { timeoutMs: number; intervalMs?: number; what: string }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
