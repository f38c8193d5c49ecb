/**
 * `npm run db:migrate`: applies supabase/migrations to DATABASE_URL, or to the embedded PGlite
 * database (PGLITE_DIR, default .data/pglite) when DATABASE_URL is unset.
 */
import { openJobStore } from '../src/store/open-store';

async function main(): Promise<void> {
  const opened = await openJobStore({
    DATABASE_URL: process.env.DATABASE_URL,
    PGLITE_DIR: process.env.PGLITE_DIR,
  });
  try {
    process.stdout.write(
      `${JSON.stringify({
        level: 'info',
        msg: opened.appliedMigrations.length ? 'migrations applied' : 'database already up to date',
        kind: opened.kind,
        location: opened.location,
        applied: opened.appliedMigrations,
        time: new Date().toISOString(),
      })}\n`,
    );
  } finally {
    await opened.close();
  }
}

main().catch((error: unknown) => {
  // openJobStore's message names the address with its password redacted.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `${JSON.stringify({ level: 'error', msg: message, time: new Date().toISOString() })}\n`,
  );
  process.exitCode = 1;
});
