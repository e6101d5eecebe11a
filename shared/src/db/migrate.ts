import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

// Any constant works; it only has to be the same for every instance of every service.
const migrationLockKey = 0x7469636b; // "tick"

// drizzle's migrate() is not safe when several instances start at once (drizzle-orm#874), so
// every caller takes a session advisory lock on a dedicated connection first. The second
// instance waits, then finds nothing left to apply.
export async function runMigrations(url: string, options: { password?: string | undefined } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'migrations', ...(options.password === undefined ? {} : { password: options.password }) });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [migrationLockKey]);
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [migrationLockKey]);
    }
  } finally {
    await client.end();
  }
}

// Creates the database named in `url` when it is missing (local development and tests);
// production databases are created by infrastructure.
export async function ensureDatabase(url: string, options: { password?: string | undefined } = {}): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`refusing to create database with name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), ...(options.password === undefined ? {} : { password: options.password }) });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${name}"`);
      } catch (error) {
        // Another process created it between our check and our create.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end();
  }
}
