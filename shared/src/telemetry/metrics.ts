import type pg from 'pg';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

// One registry per service process, with Node's default metrics (event-loop lag, memory, GC)
// under the `ticketing_` prefix so dashboards can tell our series from a sidecar's.
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'ticketing_', eventLoopMonitoringPrecision: 20 });
  return registry;
}

// Round trips to Postgres and Redis, timed from the client's side (queueing for a pooled
// connection excluded, the network included). Labels are bounded: a Postgres operation is the
// prepared statement's name or the statement's first keyword, never its text; a Redis
// operation is the command name.
const dependencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const operationsMax = 100;

export interface DependencyMetrics {
  observePostgres(pool: pg.Pool): void;
  observeRedis(redis: Redis): void;
}

export function createDependencyMetrics(registry: Registry): DependencyMetrics {
  const postgresSeconds = new Histogram({
    name: 'ticketing_postgres_query_duration_seconds',
    help: 'Postgres round trips by operation (prepared statement name, or the first SQL keyword) and outcome',
    labelNames: ['operation', 'outcome'],
    buckets: dependencyBuckets,
    registers: [registry],
  });
  const redisSeconds = new Histogram({
    name: 'ticketing_redis_command_duration_seconds',
    help: 'Redis commands by name and outcome, from the moment the client sends them (pipelined commands included)',
    labelNames: ['command', 'outcome'],
    buckets: dependencyBuckets,
    registers: [registry],
  });
  const postgresOperations = boundedLabels(operationsMax);
  const redisCommands = boundedLabels(operationsMax);

  return {
    // Each pooled connection is wrapped once, when the pool opens it; pool.query and
    // transactions on a checked-out client both end in client.query.
    observePostgres(pool) {
      pool.on('connect', (client) => {
        const query = client.query;
        client.query = function timedQuery(this: pg.PoolClient, ...args: unknown[]) {
          const first = args[0] as { name?: string; text?: string; submit?: unknown } | string | undefined;
          if (typeof first === 'object' && first !== null && typeof first.submit === 'function') return (query as (...a: unknown[]) => unknown).apply(this, args);
          const operation = postgresOperations(operationOf(first));
          const startedAt = performance.now();
          const observe = (error: unknown) => postgresSeconds.observe({ operation, outcome: error ? 'error' : 'ok' }, (performance.now() - startedAt) / 1000);
          const last = args.length - 1;
          const callback = args[last];
          if (typeof callback === 'function') {
            args[last] = function timedCallback(this: unknown, error: unknown, ...rest: unknown[]) {
              observe(error);
              return (callback as (...a: unknown[]) => unknown).call(this, error, ...rest);
            };
            return (query as (...a: unknown[]) => unknown).apply(this, args);
          }
          const result = (query as (...a: unknown[]) => unknown).apply(this, args) as Promise<unknown> | undefined;
          if (typeof result?.then === 'function') result.then(() => observe(undefined), observe);
          return result;
        } as typeof client.query;
      });
    },

    // Every command goes through sendCommand (pipelines and auto-pipelining included). One
    // queued while the connection is down passes again when the queue is flushed; it is timed
    // then, when it is actually written.
    observeRedis(redis) {
      const send = redis.sendCommand;
      const observe = (command: { name: string; promise: Promise<unknown> }) => {
        const name = redisCommands(command.name);
        const startedAt = performance.now();
        command.promise.then(
          () => redisSeconds.observe({ command: name, outcome: 'ok' }, (performance.now() - startedAt) / 1000),
          () => redisSeconds.observe({ command: name, outcome: 'error' }, (performance.now() - startedAt) / 1000),
        );
      };
      redis.sendCommand = function timedSendCommand(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
        if (this.status === 'ready') observe(args[0] as unknown as { name: string; promise: Promise<unknown> });
        return send.apply(this, args);
      } as Redis['sendCommand'];
    },
  };
}

function operationOf(query: { name?: string; text?: string } | string | undefined): string {
  if (typeof query === 'string') return firstKeyword(query);
  if (query?.name) return query.name;
  return query?.text ? firstKeyword(query.text) : 'unknown';
}

function firstKeyword(sql: string): string {
  return /^\s*([a-zA-Z]+)/.exec(sql)?.[1]?.toLowerCase() ?? 'unknown';
}

// A label value set that cannot grow without bound: past `max` distinct values, the rest share
// one ('other'). Guards against a dynamic statement name ever exploding the series count.
function boundedLabels(max: number): (value: string) => string {
  const known = new Set<string>();
  return (value) => {
    if (known.has(value)) return value;
    if (known.size >= max) return 'other';
    known.add(value);
    return value;
  };
}
