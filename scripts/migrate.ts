/**
 * `npm run db:migrate`: applies supabase/migrations to DATABASE_URL, or to the embedded PGlite
 * database (PGLITE_DIR, default .data/pglite) when DATABASE_URL is unset.
 */
import { JsonLogger, stdoutLines } from '../src/observability/logger';
import { errorMessage } from '../src/shared/error-message';
import { openJobStore } from '../src/store/open-store';

async function main(): Promise<void> {
  const opened = await openJobStore({
    DATABASE_URL: process.env.DATABASE_URL,
    PGLITE_DIR: process.env.PGLITE_DIR,
  });
  try {
    // The report is the command's output: stdout.
    new JsonLogger('INFO', stdoutLines).info(
      opened.appliedMigrations.length ? 'migrations applied' : 'database already up to date',
      { kind: opened.kind, location: opened.location, applied: opened.appliedMigrations },
    );
  } finally {
    await opened.close();
  }
}

main().catch((error: unknown) => {
  // openJobStore's message names the address with its password redacted.
  new JsonLogger().error(errorMessage(error));
  process.exitCode = 1;
});
