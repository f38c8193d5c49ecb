/**
 * Applies `supabase/migrations/*.sql` in name order, once each, recording them in
 * `schema_migrations`. Works on a pg Pool, a pg client or a PGlite instance.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Pool } from 'pg';

/** The smallest surface shared by pg's Pool/PoolClient and PGlite. */
export interface Queryable {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own signature; rows are typed by callers.
  query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** PGlite: runs a multi-statement script (its `query` takes one statement only). */
  exec?(sql: string): Promise<unknown>;
}

/**
 * supabase/migrations at the project root, found from the sources (src/store), the build output
 * (dist/src/store) and the CLI bundle (dist/cli-main.js).
 */
export const MIGRATIONS_DIR = findMigrationsDir();

function findMigrationsDir(): string {
  const candidates = ['../..', '../../..', '..'].map((up) =>
    path.resolve(__dirname, up, 'supabase/migrations'),
  );
  return candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;
}

/**
 * Arbitrary constant for pg_advisory_xact_lock: serialises migration runs of concurrent
 * processes against one database (first 8 bytes of sha1('render-queue:migrations')).
 */
const MIGRATION_LOCK_KEY = '5140195375214405137';

interface PGliteLike extends Queryable {
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

function isPGlite(db: Queryable): db is PGliteLike {
  return typeof (db as Partial<PGliteLike>).transaction === 'function';
}

/** Runs `fn` in one transaction on one connection, whatever kind of handle `db` is. */
async function inTransaction<T>(db: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  // PGlite's transaction() holds its mutex, so concurrent callers cannot interleave statements.
  if (isPGlite(db)) return db.transaction(fn);
  // A Pool hands each query to any connection: take one for the whole transaction.
  const client = db instanceof Pool ? await db.connect() : undefined;
  const conn: Queryable = client ?? db;
  try {
    await conn.query('BEGIN');
    try {
      const result = await fn(conn);
      await conn.query('COMMIT');
      return result;
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    client?.release();
  }
}

/** Multi-statement scripts: PGlite needs exec(); pg's query() without params uses the simple protocol. */
async function runScript(conn: Queryable, sql: string): Promise<void> {
  if (conn.exec) await conn.exec(sql);
  else await conn.query(sql);
}

async function lock(conn: Queryable): Promise<void> {
  await conn.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
}

export interface MigrateOptions {
  /** Folder of `.sql` files; defaults to the project's supabase/migrations. */
  dir?: string;
}

/**
 * Applies every migration not yet recorded, each in its own transaction (a failing file leaves
 * no trace). Returns the names applied by this call; [] when the database is up to date.
 * Safe to run from two processes at once: each file is applied under an advisory lock and
 * re-checked after the lock is taken.
 */
export async function migrate(db: Queryable, options: MigrateOptions = {}): Promise<string[]> {
  const dir = options.dir ?? MIGRATIONS_DIR;
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();

  await inTransaction(db, async (tx) => {
    await lock(tx);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         name text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
  });

  const applied: string[] = [];
  for (const name of names) {
    const sql = await readFile(path.join(dir, name), 'utf8');
    const didApply = await inTransaction(db, async (tx) => {
      await lock(tx);
      const { rows } = await tx.query('SELECT 1 FROM schema_migrations WHERE name = $1', [name]);
      if (rows.length > 0) return false;
      try {
        await runScript(tx, sql);
      } catch (error) {
        throw new Error(`migration ${name} failed: ${(error as Error).message}`, { cause: error });
      }
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
      return true;
    });
    if (didApply) applied.push(name);
  }
  return applied;
}
