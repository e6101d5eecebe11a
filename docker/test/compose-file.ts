import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

// Reads docker/compose.yml the way Compose does for what the tests need: YAML 1.1 merge keys
// (`<<: *anchor`) applied, everything else left as written (no interpolation), so a test sees
// `${JWT_SECRET:?…}` and can tell an interpolation from a literal.

export type Environment = Record<string, string>;

export interface DependsOn {
  readonly condition: string;
}

export interface Healthcheck {
  readonly test?: string | readonly string[];
  readonly disable?: boolean;
  readonly interval?: string;
  readonly timeout?: string;
  readonly retries?: number;
  readonly start_period?: string;
}

export interface Service {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string; readonly args?: Record<string, string> };
  readonly container_name?: string;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly environment?: Environment;
  readonly ports?: ReadonlyArray<string | { readonly host_ip?: string; readonly published?: string | number; readonly target: number }>;
  readonly volumes?: readonly string[];
  readonly depends_on?: Record<string, DependsOn> | readonly string[];
  readonly healthcheck?: Healthcheck;
  readonly restart?: string;
  readonly profiles?: readonly string[];
  readonly stop_grace_period?: string;
  readonly deploy?: { readonly replicas?: number };
}

export interface ComposeFile {
  readonly services: Record<string, Service>;
  readonly volumes?: Record<string, unknown>;
}

export const composePath = new URL('../compose.yml', import.meta.url);

export function loadCompose(): ComposeFile {
  return parse(readFileSync(composePath, 'utf8'), { merge: true }) as ComposeFile;
}

// One-shot jobs (topic creation, migrations, the k6 run) exit when done; everything else runs
// for the life of the stack.
export function isOneShot(service: Service): boolean {
  return service.restart === 'no';
}

// Compose durations as written in the file ("30s", "1m", "1m30s") in milliseconds.
export function durationMs(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let matched = '';
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(part[1]) * units[part[2] as string]!;
    matched += part[0];
  }
  if (matched !== text) throw new Error(`not a Compose duration: "${text}"`);
  return total;
}

// `${NAME:?message}`: Compose refuses to start while NAME is unset or empty.
export const requiredInterpolation = /^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$/;

// Lines of a `key value` config file (Kvrocks, Redis) as a map; comments and blanks skipped.
export function parseKeyValueConfig(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [key, ...rest] = line.split(/\s+/);
    entries.set(key!, rest.join(' '));
  }
  return entries;
}
