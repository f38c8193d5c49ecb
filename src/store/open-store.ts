/**
 * Opens the JobStore the environment asks for: Supabase's REST API when SUPABASE_URL and
 * SUPABASE_SERVICE_ROLE_KEY are set (production; migrations are applied with the Supabase CLI),
 * else a pg Pool when DATABASE_URL is set, else embedded PGlite (the zero-install default).
 * The direct stores run the migrations on open.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { PGlite } from '@electric-sql/pglite';
import type * as PGliteNamespace from '@electric-sql/pglite';
import { Pool } from 'pg';
import { JsonLogger } from '../observability/logger';
import { passwordOf, redact, redactUrlCredentials } from '../observability/secrets';
import { migrate } from './migrate';
import type { Queryable } from './migrate';
import { PostgresJobStore } from './postgres-store';
import { SupabaseJobStore } from './supabase-store';

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

/** The Supabase store: no database handle (everything goes through the REST API). */
export interface OpenedSupabaseJobStore {
  store: SupabaseJobStore;
  db: undefined;
  close(): Promise<void>;
  kind: 'supabase';
  /** Always []: a Supabase project's schema is migrated by the Supabase CLI, not on open. */
  appliedMigrations: string[];
  /** The project's host, safe to log. */
  location: string;
}

export type AnyOpenedJobStore = OpenedJobStore | OpenedSupabaseJobStore;

/** An environment that selects a direct store (no Supabase settings). */
export interface DirectStoreEnv {
  DATABASE_URL?: string | undefined;
  PGLITE_DIR?: string | undefined;
  SUPABASE_URL?: undefined;
  SUPABASE_SERVICE_ROLE_KEY?: undefined;
}

export interface OpenStoreEnv {
  DATABASE_URL?: string | undefined;
  PGLITE_DIR?: string | undefined;
  SUPABASE_URL?: string | undefined;
  SUPABASE_SERVICE_ROLE_KEY?: string | undefined;
}

/** The connection string with its password replaced, for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    new URL(url);
    return redactUrlCredentials(url);
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

/** Opening a store happens before any logger is handed round: its few lines go to stderr. */
const logger = new JsonLogger();

async function openPostgres(url: string): Promise<OpenedJobStore> {
  const location = redactDatabaseUrl(url);
  const pool = new Pool({ connectionString: url, max: 10, application_name: 'render-queue', ...PG_TIMEOUTS });
  // An idle connection dropped by the server emits 'error' on the pool; unhandled, it kills the process.
  pool.on('error', (error) =>
    logger.warn('idle database connection lost', { location, error: error.message }),
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
  const message = redact(typeof candidate === 'string' ? candidate : String(cause), passwordOf(url));
  return new Error(`cannot open database ${location}: ${message}`, { cause });
}

/**
 * Checks the URL and key with one read (the queue config every worker needs anyway), so a wrong
 * key or URL stops start-up as a wrong DATABASE_URL does.
 */
async function openSupabase(url: string, serviceRoleKey: string): Promise<OpenedSupabaseJobStore> {
  const store = new SupabaseJobStore({ url, serviceRoleKey });
  const location = new URL(url).host;
  try {
    await store.readQueueConfig();
  } catch (error) {
    await store.close();
    // The store's messages name the host, never the key; split once more in case a server echoed it.
    const message = redact((error as Error).message, serviceRoleKey);
    throw new Error(`cannot open Supabase store ${location}: ${message}`);
  }
  return {
    store,
    db: undefined,
    close: () => store.close(),
    kind: 'supabase',
    appliedMigrations: [],
    location,
  };
}

/**
 * SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY -> Supabase (REST, 10 s per request); DATABASE_URL ->
 * pg Pool (max 10, timeouts); otherwise PGlite under PGLITE_DIR ('memory://' for none).
 * Without Supabase settings the result is always a direct store, with its `db`.
 */
export async function openJobStore(env: DirectStoreEnv): Promise<OpenedJobStore>;
export async function openJobStore(env: OpenStoreEnv): Promise<AnyOpenedJobStore>;
export async function openJobStore(env: OpenStoreEnv): Promise<AnyOpenedJobStore> {
  if (env.SUPABASE_URL) {
    if (!env.SUPABASE_SERVICE_ROLE_KEY)
      throw new Error('SUPABASE_SERVICE_ROLE_KEY is required when SUPABASE_URL is set');
    return openSupabase(env.SUPABASE_URL, env.SUPABASE_SERVICE_ROLE_KEY);
  }
  if (env.DATABASE_URL) return openPostgres(env.DATABASE_URL);
  return openPGlite(env.PGLITE_DIR || DEFAULT_PGLITE_DIR);
}
