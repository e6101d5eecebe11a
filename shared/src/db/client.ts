import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import * as schema from './schema.ts';

export type Database = NodePgDatabase<typeof schema>;

export interface Postgres {
  readonly pool: pg.Pool;
  readonly db: Database;
  close(): Promise<void>;
}

export function createPostgres(options: { url: string; password?: string | undefined; poolMax: number; applicationName: string }): Postgres {
  const pool = new pg.Pool({
    connectionString: options.url,
    ...(options.password === undefined ? {} : { password: options.password }),
    max: options.poolMax,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    // A statement that runs this long is a stuck lock or a lost server; fail and retry instead.
    statement_timeout: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return {
    pool,
    db: drizzle(pool, { schema }),
    close: () => pool.end(),
  };
}
