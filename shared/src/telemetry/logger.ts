import { pino, type Logger as PinoLogger } from 'pino';
import { activeTraceFields } from './tracing.ts';

export type Logger = PinoLogger;

// Keys whose values never reach a log line, wherever they appear in a logged object (pino's
// `*` is one level; the explicit paths cover the places credentials travel in this code).
export const redactedPaths = [
  'password',
  'token',
  'accessToken',
  'access_token',
  'paymentToken',
  'authorization',
  'cookie',
  'secret',
  'jwtSecret',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.paymentToken',
  '*.authorization',
  '*.secret',
  '*.jwtSecret',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.sasl.password',
];

// Every line written while a span is active carries `trace_id` and `span_id`, so a log line
// leads to its trace in Jaeger (and a trace id found in Jaeger finds its log lines).
export function createLogger(options: { name: string; level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: activeTraceFields,
    },
    options.destination,
  );
}
