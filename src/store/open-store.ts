/**
 * Opens the direct-database JobStore: a pg Pool when DATABASE_URL is set, otherwise embedded
 * PGlite (the zero-install default). Migrations run on open.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { PGlite } from '@electric-sql/pglite';
import type * as PGliteNamespace from '@electric-sql/pglite';
import { Pool } from 'pg';
import { migrate } from './migrate';
import type { Queryable } from './migrate';
import { PostgresJobStore } from './postgres-store';

export const DEFAULT_PGLITE_DIR = '.data/pglite';

/** Bounds for every pg call: a stuck database fails the call instead of hanging the caller. */
export const PG_TIMEOUTS = {
  connectionTimeoutMillis: 5_000,
  /** Server-side cap per statement. */
  statement_timeout: 15_000,
  /** Client-side cap, slightly longer, for when the server itself stops answering. */
  query_timeout: 20_000,
  idleTimeoutMillis: 30_000,
} as const;

export interface OpenedJobStore {
  store: PostgresJobStore;
  db: Queryable;
  /** Closes the store and its connection; safe to call twice. */
  close(): Promise<void>;
  kind: 'postgres' | 'pglite';
  /** Migrations applied while opening ([] when already up to date). */
  appliedMigrations: string[];
  /** Where the data lives, safe to log: password redacted, or the PGlite folder. */
  location: string;
}

export interface OpenStoreEnv {
  DATABASE_URL?: string;
  PGLITE_DIR?: string;
}

/** The connection string with its password replaced, for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

function logLine(level: 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level, msg, ...fields, time: new Date().toISOString() })}\n`);
}

async function openPostgres(url: string): Promise<OpenedJobStore> {
  const location = redactDatabaseUrl(url);
  const pool = new Pool({ connectionString: url, max: 10, application_name: 'render-queue', ...PG_TIMEOUTS });
  // An idle connection dropped by the server emits 'error' on the pool; unhandled, it kills the process.
  pool.on('error', (error) =>
    logLine('warn', 'idle database connection lost', { location, error: error.message }),
  );
  let appliedMigrations: string[];
  try {
    appliedMigrations = await migrate(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw openError(location, error, url);
  }
  const store = new PostgresJobStore(pool, { onClose: () => pool.end() });
  return { store, db: pool, close: () => store.close(), kind: 'postgres', appliedMigrations, location };
}

type PGliteModule = typeof PGliteNamespace;

/**
 * Loads PGlite through Node's own require. PGlite's Emscripten loader calls `import()`, which
 * jest's module sandbox refuses without --experimental-vm-modules; process.getBuiltinModule
 * (Node >= 20.16) reaches the real `node:module` even under jest, and in production it is the
 * same loader a plain require uses. Under jest the objects PGlite returns (rows, Dates, errors)
 * come from another realm, so the store never relies on `instanceof` for them.
 */
function loadPGlite(): PGliteModule {
  const nodeModule = process.getBuiltinModule?.('node:module') ?? { createRequire };
  return nodeModule.createRequire(__filename)('@electric-sql/pglite') as PGliteModule;
}

async function openPGlite(dir: string): Promise<OpenedJobStore> {
  const inMemory = dir === 'memory://';
  const location = inMemory ? dir : path.resolve(dir);
  if (!inMemory) await mkdir(location, { recursive: true });
  // PGlite is one in-process connection; it queues concurrent queries and transactions itself.
  const pglite: PGlite = await loadPGlite().PGlite.create(inMemory ? undefined : location);
  let appliedMigrations: string[];
  try {
    appliedMigrations = await migrate(pglite);
  } catch (error) {
    await pglite.close().catch(() => undefined);
    throw openError(location, error);
  }
  const store = new PostgresJobStore(pglite, { onClose: () => pglite.close() });
  return { store, db: pglite, close: () => store.close(), kind: 'pglite', appliedMigrations, location };
}

function openError(location: string, cause: unknown, url?: string): Error {
  const candidate = (cause as { message?: unknown } | null)?.message;
  let message = typeof candidate === 'string' ? candidate : String(cause);
  const password = url ? safePassword(url) : '';
  if (password) message = message.split(password).join('***');
  return new Error(`cannot open database ${location}: ${message}`, { cause });
}

function safePassword(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/** DATABASE_URL -> pg Pool (max 10, timeouts); otherwise PGlite under PGLITE_DIR ('memory://' for none). */
export async function openJobStore(env: OpenStoreEnv): Promise<OpenedJobStore> {
  if (env.DATABASE_URL) return openPostgres(env.DATABASE_URL);
  return openPGlite(env.PGLITE_DIR || DEFAULT_PGLITE_DIR);
}
