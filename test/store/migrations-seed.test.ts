/**
 * The migrations and the runner: seeds match the constants, files apply once each, a failing
 * file leaves no trace, and two runners at once apply each file exactly once.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { JOB_TYPE_DEFAULT_RENDERER } from '../../src/shared/constants';
import { migrate, MIGRATIONS_DIR } from '../../src/store/migrate';
import type { Queryable } from '../../src/store/migrate';
import { dbTargets } from '../../dev/db';
import type { OpenedTestDb } from '../../dev/db';

async function scratchDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rq-migrations-'));
  for (const [name, sql] of Object.entries(files)) await writeFile(path.join(dir, name), sql);
  return dir;
}

async function tableExists(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [name]);
  return rows[0]?.found != null;
}

describe.each(dbTargets())('migrations ($name)', (target) => {
  let opened: OpenedTestDb;
  const dirs: string[] = [];

  beforeAll(async () => {
    opened = await target.open();
  });

  afterAll(async () => {
    await opened?.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test('job_types is seeded with exactly JOB_TYPE_DEFAULT_RENDERER, all enabled', async () => {
    const { rows } = await opened.db.query<{ name: string; default_renderer: string; enabled: boolean }>(
      'SELECT name, default_renderer, enabled FROM job_types ORDER BY name',
    );
    expect(Object.fromEntries(rows.map((row) => [row.name, row.default_renderer]))).toEqual(
      JOB_TYPE_DEFAULT_RENDERER,
    );
    expect(rows.every((row) => row.enabled)).toBe(true);
  });

  test('every migration file is recorded once in schema_migrations', async () => {
    const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
    expect(files).toContain('20261128000001_core.sql');
    const { rows } = await opened.db.query<{ name: string }>(
      `SELECT name FROM schema_migrations WHERE name LIKE '2%' ORDER BY name`,
    );
    expect(rows.map((row) => row.name)).toEqual(files);
  });

  test('job_queue_config stores an out-of-range cap so the application can reject it', async () => {
    await opened.db.query('UPDATE job_queue_config SET max_concurrent_renders = -1');
    await expect(opened.store.readQueueConfig()).resolves.toMatchObject({ maxConcurrentRenders: -1 });
    await opened.db.query('UPDATE job_queue_config SET max_concurrent_renders = DEFAULT');
    await expect(opened.db.query('INSERT INTO job_queue_config (id) VALUES (2)')).rejects.toMatchObject({
      constraint: 'job_queue_config_single_row',
    });
  });

  test('a failing migration is rolled back as a whole and the ones before it stay applied', async () => {
    const dir = await scratchDir({
      '0001_ok.sql': 'CREATE TABLE probe_ok (id int);',
      '0002_bad.sql': 'CREATE TABLE probe_partial (id int);\nSELECT 1 / 0;',
    });
    dirs.push(dir);
    await expect(migrate(opened.db, { dir })).rejects.toThrow(
      'migration 0002_bad.sql failed: division by zero',
    );
    expect(await tableExists(opened.db, 'probe_ok')).toBe(true);
    expect(await tableExists(opened.db, 'probe_partial')).toBe(false);

    await writeFile(path.join(dir, '0002_bad.sql'), 'CREATE TABLE probe_partial (id int);');
    await expect(migrate(opened.db, { dir })).resolves.toEqual(['0002_bad.sql']);
    expect(await tableExists(opened.db, 'probe_partial')).toBe(true);
  });

  test('two runners at once apply each migration exactly once', async () => {
    // Plain CREATE TABLE (not IF NOT EXISTS): a second application would fail.
    const files = Object.fromEntries(
      Array.from({ length: 4 }, (_, i) => [`10${i}_race.sql`, `CREATE TABLE race_${i} (id int);`]),
    );
    const dir = await scratchDir(files);
    dirs.push(dir);
    // On Postgres a second pool is a second set of sessions; PGlite has one connection by design.
    const second = opened.url ? new Pool({ connectionString: opened.url, max: 2 }) : undefined;
    try {
      const results = await Promise.all([migrate(opened.db, { dir }), migrate(second ?? opened.db, { dir })]);
      expect(results.flat().sort()).toEqual(Object.keys(files).sort());
    } finally {
      await second?.end();
    }
    const { rows } = await opened.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM schema_migrations WHERE name LIKE '%_race.sql'`,
    );
    expect(Number(rows[0]!.n)).toBe(4);
  });
});
