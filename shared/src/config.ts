// The only module that reads the environment. Every setting is declared once in SETTINGS
// (name, type, default, bounds, description); `loadConfig` validates the whole environment
// against that table, fails with every problem listed at once, and returns a frozen object
// that is passed down from each service's composition root. The README's configuration
// table is generated from the same table (`node dev/config-table.ts`).

type Kind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'url';

interface Setting {
  readonly kind: Kind;
  readonly description: string;
  readonly default?: string;
  readonly min?: number;
  readonly max?: number;
  readonly oneOf?: readonly string[];
}

const DEV_JWT_SECRET = 'local-development-secret-change-me-0123456789';

export const SETTINGS = {
  NODE_ENV: { kind: 'string', default: 'development', oneOf: ['development', 'production', 'test'], description: 'Deployment mode. `production` refuses the development JWT secret.' },
  LOG_LEVEL: { kind: 'string', default: 'info', oneOf: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'pino log level.' },
  HOST: { kind: 'string', default: '127.0.0.1', description: 'Interface the HTTP servers bind to (`0.0.0.0` in containers).' },
  PORT: { kind: 'int', default: '3000', min: 0, max: 65535, description: 'Ticketing-service HTTP port (API, SSE, /docs, /metrics).' },
  RESERVATION_HTTP_PORT: { kind: 'int', default: '9464', min: 0, max: 65535, description: 'Reservation-service port for /health/live, /health/ready and /metrics.' },
  PUBLIC_URL: { kind: 'string', default: '', description: 'Base URL printed in logs and used in OpenAPI `servers`; empty means derived from HOST and PORT.' },
  JWT_SECRET: { kind: 'string', default: DEV_JWT_SECRET, description: 'HS256 secret for bearer tokens (at least 32 characters). The default is for local use only.' },
  DATABASE_URL: { kind: 'url', default: 'postgres://postgres@127.0.0.1:5432/ticketing', description: 'Postgres connection string (the writer endpoint: every decision reads and writes it).' },
  DATABASE_PASSWORD: { kind: 'string', default: '', description: 'Postgres password, when it is injected as a secret rather than written into DATABASE_URL.' },
  DATABASE_MIGRATE_ON_START: { kind: 'bool', default: 'true', description: 'Apply pending migrations at start-up (under an advisory lock, so concurrent starts are safe).' },
  DATABASE_POOL_MAX: { kind: 'int', default: '10', min: 1, max: 200, description: 'Postgres connections per process.' },
  REDIS_URL: { kind: 'url', default: 'redis://127.0.0.1:6379', description: 'Redis or Kvrocks holding seat bitmaps, booking records and Pub/Sub.' },
  REDIS_PASSWORD: { kind: 'string', default: '', description: 'Redis/Kvrocks password, when it is injected as a secret rather than written into REDIS_URL.' },
  REDIS_KEY_PREFIX: { kind: 'string', default: 'tk:', description: 'Prefix for every Redis key and channel, so deployments can share a server.' },
  KAFKA_BROKERS: { kind: 'list', default: '127.0.0.1:9092', description: 'Kafka bootstrap brokers. `npm start` runs the local mock cluster and sets this when unset.' },
  KAFKA_SSL: { kind: 'bool', default: 'false', description: 'Connect to the brokers over TLS (Amazon MSK requires it).' },
  KAFKA_SASL_MECHANISM: { kind: 'string', default: '', oneOf: ['', 'plain', 'scram-sha-256', 'scram-sha-512'], description: 'SASL mechanism; empty for none. MSK uses `scram-sha-512`.' },
  KAFKA_SASL_USERNAME: { kind: 'string', default: '', description: 'SASL user name.' },
  KAFKA_SASL_PASSWORD: { kind: 'string', default: '', description: 'SASL password (a secret).' },
  KAFKA_CLIENT_ID: { kind: 'string', default: 'ticketing', description: 'Kafka client id prefix.' },
  KAFKA_COMMAND_TOPIC: { kind: 'string', default: 'ticketing.commands.v1', description: 'The one topic carrying every reservation command, keyed by event + section + subsection.' },
  KAFKA_PARTITIONS: { kind: 'int', default: '12', min: 1, max: 10000, description: 'Partitions of the command topic when `npm run topics` creates it. Services use the count the broker reports.' },
  KAFKA_REPLICATION_FACTOR: { kind: 'int', default: '3', min: 1, max: 7, description: 'Replication factor when `npm run topics` creates the topic.' },
  KAFKA_CONSUMER_GROUP: { kind: 'string', default: 'reservation-service', description: 'Consumer group of the reservation service.' },
  KAFKA_SESSION_TIMEOUT_MS: { kind: 'int', default: '30000', min: 3000, max: 300000, description: 'Consumer session timeout: how long a dead consumer keeps its partitions.' },
  KAFKA_MAX_WAIT_MS: { kind: 'int', default: '100', min: 1, max: 5000, description: 'Consumer fetch `maxWaitTimeInMs`. Real Kafka answers early when data arrives; the local mock always waits this long, so `npm start` uses 10.' },
  KAFKA_PARTITIONS_CONCURRENCY: { kind: 'int', default: '4', min: 1, max: 64, description: 'Partitions one reservation process decides concurrently (ordering stays per partition).' },
  KAFKA_PRODUCE_LINGER_MS: { kind: 'int', default: '2', min: 0, max: 100, description: 'How long the ticketing producer waits to fill a batch before sending.' },
  KAFKA_PRODUCE_BATCH_MAX: { kind: 'int', default: '500', min: 1, max: 10000, description: 'Commands per produce request.' },
  KAFKA_PRODUCE_QUEUE_MAX: { kind: 'int', default: '20000', min: 1, max: 1000000, description: 'Commands waiting for Kafka per process; beyond it bookings get 503 with Retry-After.' },
  KAFKA_PRODUCE_TIMEOUT_MS: { kind: 'int', default: '5000', min: 100, max: 120000, description: 'Produce acknowledgement timeout (acks = all).' },
  OUTBOX_FALLBACK_AFTER_MS: { kind: 'int', default: '1000', min: 50, max: 60000, description: 'A command Kafka has not acknowledged within this goes to the Postgres outbox instead, and the booking is still accepted; later ones follow it there until the relay has emptied it.' },
  OUTBOX_ROWS_MAX: { kind: 'int', default: '100000', min: 1, max: 10000000, description: 'Commands the outbox holds (all processes); beyond it bookings get 503 with Retry-After. Checked as each command is written, so concurrent writes can pass it by a few.' },
  OUTBOX_RELAY_INTERVAL_MS: { kind: 'int', default: '500', min: 10, max: 60000, description: 'How often the relay tries to hand the outbox to Kafka.' },
  OVERLOAD_EVENT_LOOP_DELAY_MS: { kind: 'int', default: '1000', min: 10, max: 60000, description: 'Event-loop delay beyond which the ticketing service sheds requests with 503 + Retry-After (health and metrics still answer).' },
  OVERLOAD_EVENT_LOOP_UTILIZATION_MAX: { kind: 'number', default: '0', min: 0, max: 1, description: 'Event-loop utilisation (0–1) beyond which the ticketing service sheds requests with 503 + Retry-After; 0 turns this check off, leaving the delay bound.' },
  BOOKING_QUANTITY_MAX: { kind: 'int', default: '4', min: 1, max: 10, description: 'Seats per booking.' },
  EVENT_SEATS_MAX: { kind: 'int', default: '1000000', min: 1, max: 5000000, description: 'Seats per event, over all subsections.' },
  BOOKING_RECORD_TTL_S: { kind: 'int', default: '3600', min: 60, max: 2592000, description: 'How long Redis keeps a booking record (idempotency and fast reads); Postgres answers after that.' },
  HOLD_DURATION_S: { kind: 'int', default: '600', min: 1, max: 86400, description: 'How long reserved seats are held for payment, unless the event sets its own.' },
  BUYER_SEATS_MAX: { kind: 'int', default: '8', min: 1, max: 1000, description: 'Seats one buyer may hold or buy per event across all sections, unless the event sets its own.' },
  BOOKING_RATE_LIMIT_MAX: { kind: 'int', default: '20', min: 1, max: 100000, description: 'POST /bookings requests per user per window, shared by every ticketing process through Redis; more get 429.' },
  BOOKING_RATE_LIMIT_WINDOW_MS: { kind: 'int', default: '10000', min: 100, max: 3600000, description: 'The rate-limit window.' },
  EXPIRY_SWEEP_INTERVAL_MS: { kind: 'int', default: '500', min: 50, max: 60000, description: 'How often each reservation process looks for holds that ran out; freed seats show within about this plus one consumer poll.' },
  PAYMENT_PROVIDER: { kind: 'string', default: 'fake', oneOf: ['fake'], description: 'Payment provider adapter. `fake` declines tokens starting with `decline_` and waits N ms for tokens starting with `slow_<N>_`.' },
  PAYMENT_LEASE_MS: { kind: 'int', default: '30000', min: 1000, max: 600000, description: 'How long a payment worker owns a payment before another process may retry it (with the same idempotency key).' },
  SESSION_TTL_S: { kind: 'int', default: '43200', min: 60, max: 2592000, description: 'Lifetime of tokens issued by POST /sessions.' },
  SSE_HEARTBEAT_MS: { kind: 'int', default: '15000', min: 1000, max: 55000, description: 'SSE heartbeat; keep it below proxy and load-balancer idle timeouts.' },
  SSE_CONNECTIONS_MAX: { kind: 'int', default: '20000', min: 1, max: 200000, description: 'Open SSE streams per ticketing process; beyond it streams get 503.' },
  SSE_DELTA_FLUSH_MS: { kind: 'int', default: '100', min: 10, max: 5000, description: 'Event-stream coalescing window: seat deltas are merged and sent at most this often.' },
  SSE_SEAT_MAP_SEATS_MAX: { kind: 'int', default: '50000', min: 0, max: 5000000, description: 'Largest event whose event stream includes every seat map by default; bigger events need `?subsections=`.' },
  RESERVATION_BATCH_MAX: { kind: 'int', default: '1000', min: 1, max: 10000, description: 'Commands decided and written to Postgres per transaction.' },
  RESERVATION_COALESCE_MS: { kind: 'int', default: '0', min: 0, max: 100, description: 'Wait up to this long for the slices of other partitions (up to KAFKA_PARTITIONS_CONCURRENCY) and decide them in one transaction; 0 decides each slice alone.' },
  OTEL_EXPORTER_OTLP_ENDPOINT: { kind: 'url', default: '', description: 'OTLP/HTTP base URL traces are sent to (`/v1/traces` is appended), e.g. Jaeger\'s `http://jaeger:4318`. Empty: tracing is off and the OpenTelemetry SDK is not even loaded.' },
  OTEL_SERVICE_NAME: { kind: 'string', default: '', description: '`service.name` on the traces; empty means the service\'s own name (`ticketing-service`, `reservation-service`).' },
  OTEL_TRACES_SAMPLER_ARG: { kind: 'number', default: '1', min: 0, max: 1, description: 'Share of new traces sampled (parent-based: a booking\'s spans in both services follow the decision made at POST /bookings).' },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly logLevel: string;
  readonly http: { readonly host: string; readonly port: number; readonly reservationPort: number; readonly publicUrl: string };
  readonly auth: { readonly jwtSecret: string; readonly sessionTtlS: number };
  readonly postgres: { readonly url: string; readonly password: string | undefined; readonly poolMax: number; readonly migrateOnStart: boolean };
  readonly redis: { readonly url: string; readonly password: string | undefined; readonly keyPrefix: string };
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly ssl: boolean;
    readonly sasl: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string } | undefined;
    readonly clientId: string;
    readonly commandTopic: string;
    readonly partitions: number;
    readonly replicationFactor: number;
    readonly consumerGroup: string;
    readonly sessionTimeoutMs: number;
    readonly maxWaitMs: number;
    readonly partitionsConcurrency: number;
    readonly produceLingerMs: number;
    readonly produceBatchMax: number;
    readonly produceQueueMax: number;
    readonly produceTimeoutMs: number;
  };
  readonly lifecycle: {
    readonly holdDurationS: number;
    readonly buyerSeatsMax: number;
    readonly expirySweepIntervalMs: number;
    readonly paymentProvider: 'fake';
    readonly paymentLeaseMs: number;
  };
  readonly rateLimit: { readonly bookingsMax: number; readonly windowMs: number };
  readonly outbox: { readonly fallbackAfterMs: number; readonly rowsMax: number; readonly relayIntervalMs: number };
  readonly overload: { readonly eventLoopDelayMaxMs: number; readonly eventLoopUtilizationMax: number };
  readonly limits: {
    readonly bookingQuantityMax: number;
    readonly eventSeatsMax: number;
    readonly bookingRecordTtlS: number;
    readonly reservationBatchMax: number;
    readonly reservationCoalesceMs: number;
  };
  readonly sse: {
    readonly heartbeatMs: number;
    readonly connectionsMax: number;
    readonly deltaFlushMs: number;
    readonly seatMapSeatsMax: number;
  };
  readonly telemetry: TelemetryConfig;
}

// Read on its own by shared/src/telemetry/instrument.ts, which runs (`node --import`) before
// the service has parsed the rest of its configuration.
export interface TelemetryConfig {
  // Empty: tracing is off.
  readonly otlpEndpoint: string;
  // Empty: the service's own name.
  readonly serviceName: string;
  readonly sampleRatio: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

type Parsed = string | number | boolean | readonly string[];

function parseSetting(name: string, setting: Setting, raw: string | undefined, problems: string[]): Parsed {
  const text = raw === undefined || raw === '' ? setting.default ?? '' : raw.trim();
  switch (setting.kind) {
    case 'int': {
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
        problems.push(`${name} must be an integer, got "${text}"`);
        return 0;
      }
      if ((setting.min !== undefined && value < setting.min) || (setting.max !== undefined && value > setting.max)) {
        problems.push(`${name} must be between ${setting.min} and ${setting.max}, got ${value}`);
      }
      return value;
    }
    case 'number': {
      const value = Number(text);
      if (text === '' || !Number.isFinite(value)) {
        problems.push(`${name} must be a number, got "${text}"`);
        return 0;
      }
      if ((setting.min !== undefined && value < setting.min) || (setting.max !== undefined && value > setting.max)) {
        problems.push(`${name} must be between ${setting.min} and ${setting.max}, got ${value}`);
      }
      return value;
    }
    case 'bool':
      if (!['true', 'false', '1', '0'].includes(text)) problems.push(`${name} must be true or false, got "${text}"`);
      return text === 'true' || text === '1';
    case 'list': {
      const items = text.split(',').map((item) => item.trim()).filter(Boolean);
      if (items.length === 0) problems.push(`${name} must list at least one entry`);
      return Object.freeze(items);
    }
    case 'url':
      // An optional URL (empty default) may stay empty.
      if (text === '' && setting.default === '') return text;
      if (!URL.canParse(text)) problems.push(`${name} must be a URL, got "${text}"`);
      return text;
    case 'string':
      if (setting.oneOf && !setting.oneOf.includes(text)) {
        problems.push(`${name} must be one of ${setting.oneOf.join(', ')}, got "${text}"`);
      }
      return text;
  }
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}

const telemetrySettings = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME', 'OTEL_TRACES_SAMPLER_ARG'] as const satisfies readonly SettingName[];

function parseSettings(names: readonly SettingName[], env: Readonly<Record<string, string | undefined>>, problems: string[]) {
  const values = {} as Record<SettingName, Parsed>;
  for (const name of names) values[name] = parseSetting(name, SETTINGS[name], env[name], problems);
  return <T extends Parsed>(name: SettingName) => values[name] as T;
}

function telemetryFrom(get: <T extends Parsed>(name: SettingName) => T): TelemetryConfig {
  return {
    otlpEndpoint: get<string>('OTEL_EXPORTER_OTLP_ENDPOINT').replace(/\/+$/, ''),
    serviceName: get<string>('OTEL_SERVICE_NAME'),
    sampleRatio: get<number>('OTEL_TRACES_SAMPLER_ARG'),
  };
}

// Only the telemetry settings, for code that runs before the service parses its config.
export function loadTelemetryConfig(env: Readonly<Record<string, string | undefined>> = process.env): TelemetryConfig {
  const problems: string[] = [];
  const get = parseSettings(telemetrySettings, env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(telemetryFrom(get));
}

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const problems: string[] = [];
  const get = parseSettings(Object.keys(SETTINGS) as SettingName[], env, problems);

  const jwtSecret = get<string>('JWT_SECRET');
  if (jwtSecret.length < 32) problems.push('JWT_SECRET must be at least 32 characters');
  if (get<string>('NODE_ENV') === 'production' && jwtSecret === DEV_JWT_SECRET) {
    problems.push('JWT_SECRET must be set in production (the built-in value is for local use only)');
  }
  const saslMechanism = get<string>('KAFKA_SASL_MECHANISM');
  if (saslMechanism !== '' && (get<string>('KAFKA_SASL_USERNAME') === '' || get<string>('KAFKA_SASL_PASSWORD') === '')) {
    problems.push('KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const host = get<string>('HOST');
  const port = get<number>('PORT');
  return deepFreeze({
    env: get<Config['env']>('NODE_ENV'),
    logLevel: get<string>('LOG_LEVEL'),
    http: {
      host,
      port,
      reservationPort: get<number>('RESERVATION_HTTP_PORT'),
      publicUrl: get<string>('PUBLIC_URL') || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    },
    auth: { jwtSecret, sessionTtlS: get<number>('SESSION_TTL_S') },
    lifecycle: {
      holdDurationS: get<number>('HOLD_DURATION_S'),
      buyerSeatsMax: get<number>('BUYER_SEATS_MAX'),
      expirySweepIntervalMs: get<number>('EXPIRY_SWEEP_INTERVAL_MS'),
      paymentProvider: get<'fake'>('PAYMENT_PROVIDER'),
      paymentLeaseMs: get<number>('PAYMENT_LEASE_MS'),
    },
    rateLimit: { bookingsMax: get<number>('BOOKING_RATE_LIMIT_MAX'), windowMs: get<number>('BOOKING_RATE_LIMIT_WINDOW_MS') },
    outbox: { fallbackAfterMs: get<number>('OUTBOX_FALLBACK_AFTER_MS'), rowsMax: get<number>('OUTBOX_ROWS_MAX'), relayIntervalMs: get<number>('OUTBOX_RELAY_INTERVAL_MS') },
    overload: { eventLoopDelayMaxMs: get<number>('OVERLOAD_EVENT_LOOP_DELAY_MS'), eventLoopUtilizationMax: get<number>('OVERLOAD_EVENT_LOOP_UTILIZATION_MAX') },
    postgres: {
      url: get<string>('DATABASE_URL'),
      password: get<string>('DATABASE_PASSWORD') || undefined,
      poolMax: get<number>('DATABASE_POOL_MAX'),
      migrateOnStart: get<boolean>('DATABASE_MIGRATE_ON_START'),
    },
    redis: { url: get<string>('REDIS_URL'), password: get<string>('REDIS_PASSWORD') || undefined, keyPrefix: get<string>('REDIS_KEY_PREFIX') },
    kafka: {
      brokers: get<readonly string[]>('KAFKA_BROKERS'),
      ssl: get<boolean>('KAFKA_SSL'),
      sasl: saslMechanism === ''
        ? undefined
        : { mechanism: saslMechanism as 'plain' | 'scram-sha-256' | 'scram-sha-512', username: get<string>('KAFKA_SASL_USERNAME'), password: get<string>('KAFKA_SASL_PASSWORD') },
      clientId: get<string>('KAFKA_CLIENT_ID'),
      commandTopic: get<string>('KAFKA_COMMAND_TOPIC'),
      partitions: get<number>('KAFKA_PARTITIONS'),
      replicationFactor: get<number>('KAFKA_REPLICATION_FACTOR'),
      consumerGroup: get<string>('KAFKA_CONSUMER_GROUP'),
      sessionTimeoutMs: get<number>('KAFKA_SESSION_TIMEOUT_MS'),
      maxWaitMs: get<number>('KAFKA_MAX_WAIT_MS'),
      partitionsConcurrency: get<number>('KAFKA_PARTITIONS_CONCURRENCY'),
      produceLingerMs: get<number>('KAFKA_PRODUCE_LINGER_MS'),
      produceBatchMax: get<number>('KAFKA_PRODUCE_BATCH_MAX'),
      produceQueueMax: get<number>('KAFKA_PRODUCE_QUEUE_MAX'),
      produceTimeoutMs: get<number>('KAFKA_PRODUCE_TIMEOUT_MS'),
    },
    limits: {
      bookingQuantityMax: get<number>('BOOKING_QUANTITY_MAX'),
      eventSeatsMax: get<number>('EVENT_SEATS_MAX'),
      bookingRecordTtlS: get<number>('BOOKING_RECORD_TTL_S'),
      reservationBatchMax: get<number>('RESERVATION_BATCH_MAX'),
      reservationCoalesceMs: get<number>('RESERVATION_COALESCE_MS'),
    },
    sse: {
      heartbeatMs: get<number>('SSE_HEARTBEAT_MS'),
      connectionsMax: get<number>('SSE_CONNECTIONS_MAX'),
      deltaFlushMs: get<number>('SSE_DELTA_FLUSH_MS'),
      seatMapSeatsMax: get<number>('SSE_SEAT_MAP_SEATS_MAX'),
    },
    telemetry: telemetryFrom(get),
  });
}
