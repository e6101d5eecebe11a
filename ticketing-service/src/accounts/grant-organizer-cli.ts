import { parseArgs } from 'node:util';
import { loadConfig } from '@ticketing/shared/config';
import { createPostgres } from '@ticketing/shared/db/client';
import { createUserStore } from './user-store.ts';

// npm run grant-organizer -- --email alice@example.com [--revoke]
// Organizer rights are an operator's decision, so they are granted here, not through the API.
// The user's next login carries the new role.
const { values } = parseArgs({ options: { email: { type: 'string' }, revoke: { type: 'boolean', default: false } } });
if (!values.email) {
  console.error('usage: npm run grant-organizer -- --email <address> [--revoke]');
  process.exit(2);
}
const config = loadConfig();
const postgres = createPostgres({ url: config.postgres.url, password: config.postgres.password, poolMax: 1, applicationName: 'grant-organizer' });
try {
  const user = await createUserStore(postgres.db).setRole(values.email, values.revoke ? 'buyer' : 'organizer');
  if (!user) {
    console.error(`no account with email ${values.email}`);
    process.exitCode = 1;
  } else {
    console.log(`${user.email} is now ${user.role}`);
  }
} finally {
  await postgres.close();
}
