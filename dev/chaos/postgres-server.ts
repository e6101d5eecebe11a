import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../testing/free-port.ts';

// A private Postgres cluster for fault tests: crashed (immediate shutdown, as a power cut
// leaves it), kept down, and started again, without touching the shared server other tests
// use. Postgres refuses to run as root, so as root it runs as the `postgres` user.

export interface PrivatePostgres {
  // Superuser URL of the cluster's `postgres` database.
  readonly adminUrl: string;
  crash(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function postgresUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const user = await postgresUser();
  const directory = mkdtempSync(join(tmpdir(), 'chaos-pg-'));
  if (user) chownSync(directory, user.uid, user.gid);
  const data = join(directory, 'data');
  const port = await freePort();
  const asPostgres = (command: string, args: string[]) => (user ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args));
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions']);
  const settings = `-p ${port} -k ${directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-o', settings, '-l', join(directory, 'log'), '-w', '-t', '30', 'start']);
  };
  const stop = (mode: 'immediate' | 'fast') => asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']).then(() => {});
  await start();
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    crash: () => stop('immediate'),
    start,
    async stop() {
      await stop('fast').catch(() => {});
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
