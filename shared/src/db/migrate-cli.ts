import { loadConfig } from '../config.ts';
import { ensureDatabase, runMigrations } from './migrate.ts';

// `npm run migrate`: applies committed migrations to DATABASE_URL (creating a local database
// when it is missing, which a managed production database never is).
const config = loadConfig();
if (config.env !== 'production') await ensureDatabase(config.postgres.url, config.postgres);
await runMigrations(config.postgres.url, config.postgres);
console.log('migrations applied');
