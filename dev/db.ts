/**
 * Databases for tests, benchmarks and scripts: in-memory PGlite always, real PostgreSQL when it answers.
 * Use with `describe.each(dbTargets())('... ($name)', (target) => ...)`.
 */
import { JsonLogger } from '../src/observability/logger';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { openJobStore } from '../src/store/open-store';
import type { Queryable } from '../src/store/migrate';
import type { PostgresJobStore } from '../src/store/postgres-store';

export interface OpenedTestDb {
  db: Queryable;
  store: PostgresJobStore;
  close(): Promise<void>;
  /** The database URL (Postgres only), for a second connection or process. */
  url?: string;
}

export interface DbTarget {
  name: 'postgres' | 'pglite';
  open(): Promise<OpenedTestDb>;
}

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function adminUrl(): string {
  return process.env.TEST_DATABASE_URL || DEFAULT_ADMIN_URL;
}

let postgresAnswers: boolean | undefined;

/**
 * Probes the server once per test file, synchronously (describe.each needs its table before
 * any async code can run), in a child process with a 1 s connect timeout.
 */
export function postgresAvailable(): boolean {
  if (postgresAnswers !== undefined) return postgresAnswers;
  const url = new URL(adminUrl());
  const probe = `
    const socket = require('node:net').connect({ host: ${JSON.stringify(url.hostname)}, port: ${Number(url.port || 5432)} });
    socket.setTimeout(1000, () => process.exit(1));
    socket.on('connect', () => process.exit(0));
    socket.on('error', () => process.exit(1));`;
  const result = spawnSync(process.execPath, ['-e', probe], { timeout: 3000, stdio: 'ignore' });
  postgresAnswers = result.status === 0;
  if (!postgresAnswers && process.env.CI === 'true') {
    // CI runs on a machine with PostgreSQL: a missing one there is a broken environment, not a skip.
    throw new Error(
      `PostgreSQL is not answering on ${url.hostname}:${url.port || 5432}; CI needs it (SQL tests and multi-process tests run on it)`,
    );
  }
  if (!postgresAnswers) {
    new JsonLogger().warn('PostgreSQL not reachable; store tests run on PGlite only', {
      ci: process.env.CI === 'true',
    });
  }
  return postgresAnswers;
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    connectionString: adminUrl(),
    connectionTimeoutMillis: 5000,
    query_timeout: 30_000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a fresh, uniquely named database; returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `rq_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdmin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

const pgliteTarget: DbTarget = {
  name: 'pglite',
  async open() {
    const opened = await openJobStore({ PGLITE_DIR: 'memory://' });
    return { db: opened.db, store: opened.store, close: opened.close };
  },
};

/** A store opened on a database of `createTestDatabase`, closed together: closing drops the database. */
export function withDatabase(
  opened: Pick<OpenedTestDb, 'db' | 'store' | 'close'>,
  database: { url: string; drop(): Promise<void> },
): OpenedTestDb {
  return {
    db: opened.db,
    store: opened.store,
    url: database.url,
    async close() {
      await opened.close();
      await database.drop();
    },
  };
}

const postgresTarget: DbTarget = {
  name: 'postgres',
  async open() {
    const database = await createTestDatabase();
    try {
      return withDatabase(await openJobStore({ DATABASE_URL: database.url }), database);
    } catch (error) {
      await database.drop();
      throw error;
    }
  },
};

export function dbTargets(): DbTarget[] {
  return postgresAvailable() ? [pgliteTarget, postgresTarget] : [pgliteTarget];
}

/** A fresh, migrated database: PostgreSQL when it answers, in-memory PGlite otherwise. */
export async function openPreferredDb(): Promise<OpenedTestDb> {
  const targets = dbTargets();
  return (targets.find((t) => t.name === 'postgres') ?? targets[0])!.open();
}

/**
 * Sets the fleet-wide caps in `job_queue_config`, outside peak hours whatever the clock says
 * (an empty peak window), so a run's caps do not depend on the time of day it runs.
 */
export async function setFleetCaps(db: Queryable, caps: { total: number; manim: number }): Promise<void> {
  await db.query(
    `UPDATE job_queue_config SET max_concurrent_renders = $1, max_manim_renders = $2,
       peak_hour_start = '00:00', peak_hour_end = '00:00'`,
    [caps.total, caps.manim],
  );
}
