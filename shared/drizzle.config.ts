import { defineConfig } from 'drizzle-kit';

// Used only by `npm run db:generate`, which writes a new versioned SQL migration from schema.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './shared/src/db/schema.ts',
  out: './shared/src/db/migrations',
});
