/**
 * What keeping `queue_position` and `estimated_start_at` up to date costs at 100, 1,000 and
 * 10,000 waiting jobs, old way against new, in the same process and database:
 *   old  the Phase-2 way: after every change, `update_queue_positions()` rewrites every queued row
 *        (bench/baselines/old-poller.ts, UPDATE_QUEUE_POSITIONS);
 *   new  as shipped: admission publishes its own order at most once a second
 *        (`publish_queue_positions()`: changed rows only); the cost of a publish is shared by the
 *        changes of that second. Measured for a burst of changes at the head (jobs starting: every
 *        position behind them moves) and at the tail (new jobs: nothing ahead moves).
 * And what a publish does to others: the latency of status writes (`apply_job_transition`) and
 * frontend inserts on another connection while publishes of 10,000 positions run back to back.
 *
 *   npx tsx bench/queue-positions.ts     (local PostgreSQL, else PGlite without the concurrency part)
 * Writes bench/results/queue-positions.json.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { QueuePositionUpdate } from '../src/store/job-store';
import { UPDATE_QUEUE_POSITIONS } from './baselines/old-poller';
import { openBenchDb } from './lib/infra';
import { provenance } from './lib/provenance';
import type { BenchDb } from './lib/infra';
import { percentile, round } from './lib/stats';

const SIZES = [100, 1_000, 10_000];
/** Changes in one publish interval (1 s): a busy second of starts or of inserts. */
const BURST = 10;
const RUNS = 5;

async function fill(db: BenchDb, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    await db.db.query(
      `insert into jobs (id, job_type, priority, renderer, payload, status)
       select id, 'doubt', 'medium', 'manim', '{}'::jsonb, 'queued' from unnest($1::uuid[]) as id`,
      [chunk],
    );
  }
  return ids;
}

function positions(ids: string[], offset: number): QueuePositionUpdate[] {
  const start = Date.parse('2026-12-01T10:00:00Z');
  return ids.map((jobId, i) => ({
    jobId,
    position: i + 1,
    estimatedStartAt: new Date(start + (i + offset) * 6_000).toISOString(),
  }));
}

const median = (xs: number[]) => round(percentile(xs, 50), 1);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function measureSize(count: number) {
  const db = await openBenchDb();
  try {
    let waiting = await fill(db, count);
    await db.store.publishQueuePositions(positions(waiting, 0));
    const oldMs: number[] = [];
    const headMs: number[] = [];
    const tailMs: number[] = [];
    const written = { head: 0, tail: 0 };
    for (let run = 0; run < RUNS; run += 1) {
      oldMs.push(await timed(() => db.db.query(UPDATE_QUEUE_POSITIONS)));
      // BURST jobs at the head start: every position behind them moves by BURST.
      const started = waiting.slice(0, BURST);
      await db.db.query(`update jobs set status = 'processing' where id = any($1::uuid[])`, [started]);
      waiting = waiting.slice(BURST);
      const t0 = performance.now();
      let outcome = await db.store.publishQueuePositions(positions(waiting, run + 1));
      headMs.push(performance.now() - t0);
      written.head = outcome.written;
      // BURST new jobs at the tail: nothing ahead of them moves.
      waiting = [...waiting, ...(await fill(db, BURST))];
      const t1 = performance.now();
      outcome = await db.store.publishQueuePositions(positions(waiting, run + 1));
      tailMs.push(performance.now() - t1);
      written.tail = outcome.written;
    }
    return {
      waiting: count,
      oldRewritePerChangeMs: median(oldMs),
      newPublishAfterHeadBurstMs: median(headMs),
      newPerChangeAmortisedHeadMs: round((median(headMs) ?? 0) / BURST, 2),
      rowsWrittenHeadBurst: written.head,
      newPublishAfterTailBurstMs: median(tailMs),
      newPerChangeAmortisedTailMs: round((median(tailMs) ?? 0) / BURST, 2),
      rowsWrittenTailBurst: written.tail,
    };
  } finally {
    await db.close();
  }
}

/** Status writes and inserts on their own connection while publishes of 10,000 positions run. */
async function measureInterference() {
  const db = await openBenchDb();
  if (!db.url) {
    await db.close();
    return { skipped: 'PGlite has one connection: nothing can wait on another' };
  }
  const other = new Client({ connectionString: db.url });
  await other.connect();
  try {
    const waiting = await fill(db, 10_000);
    const running = await fill(db, 200);
    let stop = false;
    let publishes = 0;
    const publisher = (async () => {
      for (let offset = 0; !stop; offset += 1) {
        await db.store.publishQueuePositions(positions(waiting, offset % 2));
        publishes += 1;
      }
    })();
    const statusMs: number[] = [];
    const insertMs: number[] = [];
    // Until 10 publishes of 10,000 positions have run alongside.
    for (let i = 0; publishes < 10; i += 1) {
      statusMs.push(
        await timed(() =>
          other.query(`update jobs set status = 'processing', sync_seq = sync_seq + 1 where id = $1`, [
            running[i % running.length],
          ]),
        ),
      );
      insertMs.push(
        await timed(() =>
          other.query(`insert into jobs (job_type, priority, payload) values ('doubt', 'low', '{}'::jsonb)`),
        ),
      );
    }
    stop = true;
    await publisher;
    const summary = (xs: number[]) => ({
      p50: round(percentile(xs, 50), 2),
      p99: round(percentile(xs, 99), 2),
    });
    return {
      publishesMeanwhile: publishes,
      writes: statusMs.length,
      statusWriteMs: summary(statusMs),
      insertMs: summary(insertMs),
    };
  } finally {
    await other.end();
    await db.close();
  }
}

async function main(): Promise<void> {
  const sizes = [];
  for (const count of SIZES) {
    sizes.push(await measureSize(count));
    process.stdout.write(`${JSON.stringify(sizes.at(-1))}\n`);
  }
  const interference = await measureInterference();
  process.stdout.write(`${JSON.stringify(interference)}\n`);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    burst: BURST,
    runs: RUNS,
    sizes,
    interference,
    provenance: provenance(),
  };
  const out = path.join(__dirname, 'results', 'queue-positions.json');
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
