/**
 * What every run needs: renderer simulators with a record of what they saw, a fresh database,
 * and Redis. Each system run gets its own simulators and database, so nothing leaks between runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Queryable } from '../../src/store/migrate';
import type { PostgresJobStore } from '../../src/store/postgres-store';
import type { RendererSimulator } from '../../dev/simulator/renderer-simulator';
import type { Renderer } from '../../src/shared/constants';
import { openPreferredDb } from '../../dev/db';
import { startStackSimulators } from '../../dev/stack';

export interface Sims {
  sims: Record<Renderer, RendererSimulator>;
  urls: Record<Renderer, string>;
  /** Job ids in the order their first render was accepted (one process, so one order). */
  startOrder: string[];
  /** Epoch ms of each job's first accepted render. */
  firstStart: Map<string, number>;
  /** Epoch ms of each job's last finished render. */
  finishedAt: Map<string, number>;
  /** First request naming this job that arrived after `after` (ms), from the ledgers. */
  firstRequestAfter(jobId: string, after: number): number | undefined;
  close(): Promise<void>;
}

export async function startSims(): Promise<Sims> {
  const { simulators: sims, urls, close } = await startStackSimulators();
  const startOrder: string[] = [];
  const firstStart = new Map<string, number>();
  const finishedAt = new Map<string, number>();
  for (const sim of Object.values(sims)) {
    sim.onEvent((event) => {
      if (event.type === 'started' && !firstStart.has(event.jobId)) {
        firstStart.set(event.jobId, Date.now());
        startOrder.push(event.jobId);
      } else if (event.type === 'finished') {
        finishedAt.set(event.jobId, Date.now());
      }
    });
  }
  return {
    sims,
    urls,
    startOrder,
    firstStart,
    finishedAt,
    firstRequestAfter(jobId, after) {
      let first: number | undefined;
      for (const sim of Object.values(sims)) {
        for (const entry of sim.ledger) {
          if (entry.jobId === jobId && entry.at > after && (first === undefined || entry.at < first)) {
            first = entry.at;
          }
        }
      }
      return first;
    },
    close,
  };
}

export interface BenchDb {
  db: Queryable;
  store: PostgresJobStore;
  kind: 'postgres' | 'pglite';
  /** Set on PostgreSQL: a second process can connect. */
  url?: string;
  close(): Promise<void>;
}

/**
 * A fresh, migrated database: PostgreSQL when it answers (a throw-away database), in-memory
 * PGlite otherwise. Peak hours are switched off (an empty window) so every system runs at the
 * same caps (10/4 unless a scenario says otherwise) whatever the time of day.
 */
export async function openBenchDb(
  policy: { retryIntervalMinutes?: number; caps?: { total: number; manim: number } } = {},
): Promise<BenchDb> {
  const db = await openPreferredDb();
  const opened: BenchDb = { ...db, kind: db.url ? 'postgres' : 'pglite' };
  await opened.db.query(
    `update job_queue_config set max_concurrent_renders = $2, max_manim_renders = $3,
       peak_hour_start = '00:00', peak_hour_end = '00:00', retry_interval_minutes = $1`,
    [policy.retryIntervalMinutes ?? 5, policy.caps?.total ?? 10, policy.caps?.manim ?? 4],
  );
  return opened;
}

/** How many of these jobs the `jobs` table shows as completed: the read model every system keeps. */
export async function completedCount(db: Queryable, ids: readonly string[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from jobs where status = 'completed' and id = any($1::uuid[])`,
    [ids],
  );
  return rows[0]?.n ?? 0;
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 50,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** How long to wait for `count` jobs to be queued somewhere: 2 minutes plus 20 ms a job (10,000 jobs: 5 min 20 s). */
export function queuedWithinMs(count: number): number {
  return 120_000 + count * 20;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const REDIS = { host: '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT || 6379) };

function portAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface RedisHandle {
  available: boolean;
  /** Why BullMQ is skipped, when it is. */
  reason?: string;
  started?: ChildProcess;
  stop(): void;
}

/** Uses the Redis on REDIS.port; starts `redis-server` (no persistence) when none answers and the binary exists. */
export async function ensureRedis(): Promise<RedisHandle> {
  if (await portAnswers(REDIS.host, REDIS.port)) return { available: true, stop() {} };
  const which = spawnSync('which', ['redis-server'], { encoding: 'utf8' });
  if (which.status !== 0) {
    return {
      available: false,
      reason: `no Redis on ${REDIS.host}:${REDIS.port} and no redis-server binary`,
      stop() {},
    };
  }
  const child = spawn(
    which.stdout.trim(),
    ['--port', String(REDIS.port), '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 50; i += 1) {
    if (await portAnswers(REDIS.host, REDIS.port, 200)) {
      return { available: true, started: child, stop: () => void child.kill('SIGTERM') };
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  return { available: false, reason: 'redis-server did not answer within 5 s', stop() {} };
}
