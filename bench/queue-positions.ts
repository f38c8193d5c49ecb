/**
 * Cost per queue change of keeping queue positions and estimates up to date, at 100, 1,000 and
 * 10,000 queued jobs, for three ways in the same process and database:
 *   baseline     the change alone, no position maintenance (what the change itself costs);
 *   incremental  as shipped: statement triggers recompute ranks and write only changed rows;
 *   naive        the old system's way: after the change, rewrite every queued row.
 * Changes measured: a low job enqueued at the end, a high job enqueued at the front, the head
 * job starting (apply_job_transition -> processing). Each in its own transaction, timed with
 * its commit; median of several runs. Rows written: row versions with the transaction's xmin.
 * Rows leaving the queue are cleared by a row trigger in every mode (part of the change itself).
 *
 *   npx tsx bench/queue-positions.ts          (BENCH_DATABASE_URL, else local PostgreSQL, else PGlite)
 * Writes bench/results/queue-positions.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { openJobStore } from '../src/store/open-store';
import type { Queryable } from '../src/store/migrate';

const SIZES = [100, 1_000, 10_000];
const ADMIN_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const MODES = ['baseline', 'incremental', 'naive'] as const;
type Mode = (typeof MODES)[number];
const OPS = ['enqueue at end', 'enqueue high at front', 'start head job'] as const;
type Op = (typeof OPS)[number];

const QUEUE_TRIGGERS = ['jobs_queue_lock', 'jobs_queue_mark_changed', 'jobs_queue_refresh'];

/** The old approach: every queued row rewritten, same ranking and estimate formula, no change filter. */
const NAIVE_REWRITE = `
  WITH ranked AS (
    SELECT id, row_number() OVER (ORDER BY job_priority_rank(priority), created_at, id) AS pos
    FROM jobs WHERE status = 'queued'
  ), caps AS (SELECT * FROM queue_caps_in_force())
  UPDATE jobs j SET queue_position = r.pos,
    estimated_wait_seconds = (floor((r.pos - 1)::numeric / caps.total_cap) * 60)::int
  FROM ranked r, caps WHERE j.id = r.id`;

interface Measurement {
  queued: number;
  op: Op;
  mode: Mode;
  medianMs: number;
  rowsWritten: number | null;
}

interface Target {
  kind: 'postgres' | 'pglite';
  db: Queryable;
  /** One connection for a transaction (pg) or the PGlite instance itself. */
  withConnection<T>(fn: (conn: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

async function postgresTarget(): Promise<Target | undefined> {
  const admin = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  const name = `rq_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const opened = await openJobStore({ DATABASE_URL: url.toString() });
  const conn = new Client({ connectionString: url.toString(), query_timeout: 120_000 });
  await conn.connect();
  return {
    kind: 'postgres',
    db: opened.db,
    withConnection: (fn) => fn(conn),
    async close() {
      await conn.end();
      await opened.close();
      const drop = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    },
  };
}

async function pgliteTarget(): Promise<Target> {
  const opened = await openJobStore({ PGLITE_DIR: 'memory://' });
  return { kind: 'pglite', db: opened.db, withConnection: (fn) => fn(opened.db), close: opened.close };
}

async function setMode(db: Queryable, mode: Mode): Promise<void> {
  const action = mode === 'incremental' ? 'ENABLE' : 'DISABLE';
  for (const trigger of QUEUE_TRIGGERS) await db.query(`ALTER TABLE jobs ${action} TRIGGER ${trigger}`);
}

/** N queued jobs of mixed priority (high 10%, medium 30%, low 60%), created one ms apart, in one statement. */
async function fill(db: Queryable, queued: number): Promise<void> {
  await db.query('DELETE FROM jobs');
  await db.query(
    `INSERT INTO jobs (job_type, priority, payload, created_at)
     SELECT 'concept_explainer',
            CASE WHEN i % 10 = 0 THEN 'high' WHEN i % 10 < 4 THEN 'medium' ELSE 'low' END,
            '{}'::jsonb, now() - interval '1 hour' + i * interval '1 millisecond'
     FROM generate_series(1, $1::int) AS i`,
    [queued],
  );
  await db.query(NAIVE_REWRITE);
  await db.query('VACUUM ANALYZE jobs').catch(() => undefined);
}

async function change(conn: Queryable, op: Op): Promise<void> {
  if (op === 'enqueue at end') {
    await conn.query(
      `INSERT INTO jobs (job_type, priority, payload) VALUES ('concept_explainer', 'low', '{}')`,
    );
  } else if (op === 'enqueue high at front') {
    await conn.query(
      `INSERT INTO jobs (job_type, priority, payload, created_at)
       VALUES ('concept_explainer', 'high', '{}', now() - interval '2 hours')`,
    );
  } else {
    await conn.query(
      `SELECT apply_job_transition(id, 1, 'processing', 'render-job-' || id, 1, null, null, null, now(), null, null)
       FROM (SELECT id FROM jobs WHERE status = 'queued'
             ORDER BY job_priority_rank(priority), created_at, id LIMIT 1) AS head`,
    );
  }
}

async function measureOnce(target: Target, op: Op, mode: Mode): Promise<{ ms: number; rows: number | null }> {
  return target.withConnection(async (conn) => {
    await conn.query('BEGIN');
    try {
      const start = process.hrtime.bigint();
      await change(conn, op);
      if (mode === 'naive') {
        await conn.query(NAIVE_REWRITE);
      }
      let elapsed = process.hrtime.bigint() - start;
      const stats = await conn
        .query<{ n: string }>(
          // Row versions this transaction wrote (pg_stat_xact_* also counts unflushed earlier ones).
          `SELECT count(*)::text AS n FROM jobs WHERE xmin = pg_current_xact_id()::xid`,
        )
        .catch(() => ({ rows: [] as { n: string }[] }));
      const commitStart = process.hrtime.bigint();
      await conn.query('COMMIT');
      elapsed += process.hrtime.bigint() - commitStart;
      const n = stats.rows[0]?.n;
      return { ms: Number(elapsed) / 1e6, rows: n === undefined ? null : Number(n) };
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const target = (await postgresTarget()) ?? (await pgliteTarget());
  const results: Measurement[] = [];
  try {
    for (const queued of SIZES) {
      const runs = queued >= 10_000 ? 7 : 15;
      for (const mode of MODES) {
        await setMode(target.db, mode);
        for (const op of OPS) {
          await fill(target.db, queued);
          await measureOnce(target, op, mode); // warm-up: caches, plans
          const samples: { ms: number; rows: number | null }[] = [];
          for (let i = 0; i < runs; i++) samples.push(await measureOnce(target, op, mode));
          const rows = samples.map((s) => s.rows).filter((r): r is number => r !== null);
          results.push({
            queued,
            op,
            mode,
            medianMs: Number(median(samples.map((s) => s.ms)).toFixed(3)),
            rowsWritten: rows.length ? median(rows) : null,
          });
        }
      }
      await setMode(target.db, 'incremental');
    }
  } finally {
    await setMode(target.db, 'incremental').catch(() => undefined);
    await target.close();
  }

  const find = (queued: number, op: Op, mode: Mode) =>
    results.find((r) => r.queued === queued && r.op === op && r.mode === mode)!;
  const table = SIZES.flatMap((queued) =>
    OPS.map((op) => {
      const [base, inc, naive] = MODES.map((mode) => find(queued, op, mode));
      return {
        queued,
        op,
        baselineMs: base!.medianMs,
        incrementalMs: inc!.medianMs,
        naiveMs: naive!.medianMs,
        incrementalRows: inc!.rowsWritten,
        naiveRows: naive!.rowsWritten,
        naiveOverIncremental: Number((naive!.medianMs / inc!.medianMs).toFixed(2)),
      };
    }),
  );
  console.log(
    `queue position maintenance, ${target.kind}, median ms per change (rows written incl. the change)`,
  );
  console.table(table);
  const outDir = path.join(__dirname, 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(
    path.join(outDir, 'queue-positions.json'),
    `${JSON.stringify({ database: target.kind, generatedAt: new Date().toISOString(), table, results }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
