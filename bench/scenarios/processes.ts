/**
 * The scenarios that need each system's worker as its own process: crash detection (kill -9 a
 * worker during renders, start a new one, time until each interrupted render is running again)
 * and resources (peak RSS and CPU seconds of the worker process per 1,000 jobs).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { forEachConcurrently } from '../../src/util/for-each-concurrently';
import { bullmqProducer } from '../baselines/bullmq';
import type { WorkerMainConfig } from '../baselines/worker-main';
import type { BenchDb, Sims } from '../lib/infra';
import { REDIS, completedCount, openBenchDb, sleep, startSims, waitUntil } from '../lib/infra';
import { benchJob, jobMix, submitBenchJob } from '../lib/jobs';
import type { BenchJob } from '../lib/jobs';
import {
  compileEntry,
  procUsage,
  shippedWorkerEnv,
  startWorkerProcess,
  temporalServerPid,
} from '../lib/proc';
import type { WorkerProcess } from '../lib/proc';
import type { Column, ScenarioReport, SystemResult } from '../lib/report';
import { computeRatios, skipped } from '../lib/report';
import { round } from '../lib/stats';
import { MAX_ATTEMPTS, PEER_RENDER_POLL_MS, insertQueuedJob } from '../systems/peers';
import { SYSTEM_IDS } from '../systems/types';
import type { SystemId } from '../systems/types';
import type { BenchContext } from './context';

type Kind = 'temporal' | 'old-poller' | 'bullmq';

/** The old poller's real timeout; the measured run scales it down to this. */
const OLD_TIMEOUT_S = 600;
const OLD_SCALED_TIMEOUT_S = 10;
/**
 * The production retry interval, in force for every system in the crash run. Only the old
 * poller's run scales it down (with its timeout) and adds the difference back, as a model: a
 * timed-out render there waits the full interval, which would hold the run for minutes.
 */
const CRASH_RETRY_INTERVAL_S = 300;
const OLD_SCALED_RETRY_INTERVAL_S = 1;

interface Harness {
  spawn(): WorkerProcess;
  submit(job: BenchJob): Promise<void>;
  close(): Promise<void>;
}

async function harness(
  ctx: BenchContext,
  kind: Kind,
  sims: Sims,
  db: BenchDb,
  crash: boolean,
  memoryDefaults = false,
): Promise<Harness> {
  const urls = sims.urls;
  if (kind === 'temporal') {
    const shipped = shippedWorkerEnv({
      address: ctx.env.address,
      databaseUrl: db.url!,
      urls,
      bundlePath: ctx.bundlePath,
    });
    const env = memoryDefaults ? withMemoryDefaults(shipped) : shipped;
    const worker = await compileEntry('src/worker.ts');
    return {
      spawn: () => startWorkerProcess(worker, [], env, 'worker running'),
      submit: async (job) => void (await submitBenchJob(ctx.env.client, job)),
      close: async () => undefined,
    };
  }
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const config: WorkerMainConfig = {
    databaseUrl: db.url!,
    urls,
    renderPollMs: PEER_RENDER_POLL_MS,
    intervalMs: 1000,
    ...(crash
      ? { timeoutMs: OLD_SCALED_TIMEOUT_S * 1000, retryIntervalMs: OLD_SCALED_RETRY_INTERVAL_S * 1000 }
      : {}),
    redis: REDIS,
    prefix,
  };
  const peerWorker = await compileEntry('bench/baselines/worker-main.ts');
  const spawn = () =>
    startWorkerProcess(peerWorker, [kind], { BENCH_WORKER_CONFIG: JSON.stringify(config) }, 'ready');
  if (kind === 'old-poller')
    return { spawn, submit: (job) => insertQueuedJob(db.db, job), close: async () => undefined };
  const producer = await bullmqProducer({
    connection: REDIS,
    prefix,
    db: db.db,
    retryIntervalMs: CRASH_RETRY_INTERVAL_S * 1000,
    maxAttempts: MAX_ATTEMPTS,
  });
  return {
    spawn,
    submit: (job) =>
      producer.submit({
        jobId: job.id,
        jobType: job.jobType,
        renderer: job.renderer,
        payload: job.payload,
        priority: job.priority,
      }),
    close: async () => {
      await producer.obliterate();
      await producer.close();
    },
  };
}

/** Seconds from the kill until each interrupted render reached a renderer again. */
async function crashRun(ctx: BenchContext, kind: Kind): Promise<number[]> {
  const sims = await startSims();
  const db = await openBenchDb({ retryIntervalMinutes: CRASH_RETRY_INTERVAL_S / 60 });
  const workers: WorkerProcess[] = [];
  let h: Harness | undefined;
  try {
    h = await harness(ctx, kind, sims, db, true);
    for (const sim of Object.values(sims.sims)) sim.hold();
    workers.push(h.spawn());
    await workers[0]!.ready;
    const jobs = [
      benchJob('manim', 'high', 1000),
      benchJob('manim', 'medium', 1000),
      benchJob('revideo', 'medium', 1000),
      benchJob('orchestrator', 'low', 1000),
    ];
    for (const job of jobs) await h.submit(job);
    await waitUntil(`${kind}: renders running`, () => jobs.every((j) => sims.firstStart.has(j.id)), 60_000);
    await sleep(2_500); // a few heartbeats / lock renewals in, as in a real crash mid-render
    const killAt = Date.now();
    workers[0]!.kill9();
    workers.push(h.spawn());
    const limitMs = kind === 'bullmq' ? 120_000 : 90_000;
    await waitUntil(
      `${kind}: interrupted renders running again`,
      () => jobs.every((j) => sims.firstRequestAfter(j.id, killAt) !== undefined),
      limitMs,
      100,
    );
    const seconds = jobs.map((j) => (sims.firstRequestAfter(j.id, killAt)! - killAt) / 1000);
    for (const sim of Object.values(sims.sims)) sim.release();
    await waitUntil(
      'crash jobs completed',
      async () =>
        (await completedCount(
          db.db,
          jobs.map((j) => j.id),
        )) === jobs.length,
      30_000,
    ).catch(() => undefined);
    return seconds;
  } finally {
    for (const worker of workers) await worker.stop(5_000);
    await h?.close();
    await sims.close();
    await db.close();
  }
}

const CRASH_COLUMNS: Column[] = [
  { key: 'meanS', label: 'mean s', ratio: true },
  { key: 'maxS', label: 'max s', ratio: true },
  { key: 'renders', label: 'renders' },
];

function crashFigures(seconds: number[]) {
  return {
    meanS: round(seconds.reduce((a, b) => a + b, 0) / seconds.length, 1),
    maxS: round(Math.max(...seconds), 1),
    renders: seconds.length,
  };
}

export async function crashScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const results = {} as Record<SystemId, SystemResult>;
  const bullmqMissing = ctx.unavailable.bullmq;
  if (!ctx.sizes.crashMeasured || !ctx.postgres) {
    const why = !ctx.postgres ? 'no PostgreSQL for a second process: ' : 'smoke size: ';
    results['temporal-1s'] = results['temporal-100ms'] = {
      method: 'model',
      figures: { meanS: 20, maxS: 20, renders: null },
      note: `${why}heartbeat timeout 20 s, then the render resumes (a lost worker uses no attempt and no retry interval), not run`,
    };
    results['old-poller-1s'] = {
      method: 'model',
      figures: { meanS: 900.5, maxS: 901, renders: null },
      note: `${why}10 min timeout + 5 min retry interval + next poll`,
    };
    results['old-poller-60s'] = {
      method: 'model',
      figures: { meanS: 930, maxS: 960, renders: null },
      note: `${why}10 min timeout + 5 min retry interval + next 60 s poll`,
    };
    results.bullmq = bullmqMissing
      ? skipped(bullmqMissing)
      : {
          method: 'model',
          figures: { meanS: 45, maxS: 60, renders: null },
          note: `${why}lock 30 s + stalled check every 30 s`,
        };
  } else {
    ctx.log('crash', { systems: 'all, concurrently' });
    // Concurrent: each has its own simulators and database, and the figures are seconds long.
    const [temporal, old, bull] = await Promise.all([
      crashRun(ctx, 'temporal'),
      crashRun(ctx, 'old-poller'),
      bullmqMissing ? Promise.resolve(null) : crashRun(ctx, 'bullmq'),
    ]);
    results['temporal-1s'] = { method: 'measured', figures: crashFigures(temporal) };
    results['temporal-100ms'] = {
      method: 'measured',
      figures: crashFigures(temporal),
      note: 'same run as temporal-1s: the worker process runs production settings (5 min retry interval); the 20 s heartbeat timeout sets the figure for both',
    };
    const scaled = crashFigures(old);
    const shift =
      OLD_TIMEOUT_S - OLD_SCALED_TIMEOUT_S + (CRASH_RETRY_INTERVAL_S - OLD_SCALED_RETRY_INTERVAL_S);
    results['old-poller-1s'] = {
      method: 'model',
      figures: {
        meanS: round(scaled.meanS! + shift, 1),
        maxS: round(scaled.maxS! + shift, 1),
        renders: old.length,
      },
      note: `measured with the timeout scaled to ${OLD_SCALED_TIMEOUT_S} s and the retry interval to ${OLD_SCALED_RETRY_INTERVAL_S} s (mean ${scaled.meanS} s, max ${scaled.maxS} s), plus the ${shift} s the real 10 min timeout and 5 min interval add`,
    };
    results['old-poller-60s'] = {
      method: 'model',
      figures: {
        meanS: round(scaled.meanS! + shift + 29.5, 1),
        maxS: round(scaled.maxS! + shift + 59, 1),
        renders: old.length,
      },
      note: 'as old-poller-1s, plus waiting for the next 60 s poll (29.5 s mean, 59 s worst)',
    };
    results.bullmq = bull ? { method: 'measured', figures: crashFigures(bull) } : skipped(bullmqMissing!);
  }
  return {
    id: 'crash',
    title: 'Crash detection (kill -9 a worker mid-render: seconds until each render runs again)',
    params: {
      renders: 4,
      retryIntervalS: CRASH_RETRY_INTERVAL_S,
      measured: ctx.sizes.crashMeasured && ctx.postgres,
    },
    columns: CRASH_COLUMNS,
    results,
    ratios: computeRatios(CRASH_COLUMNS, results),
  };
}

const RESOURCE_COLUMNS: Column[] = [
  { key: 'heldRssMb', label: 'RSS MB, jobs held', ratio: true },
  { key: 'heldRssMbAtMax', label: 'RSS MB, max jobs held' },
  { key: 'peakRssMb', label: 'peak RSS MB', ratio: true },
  { key: 'cpuSecondsPer1000', label: 'CPU s / 1,000 jobs', ratio: true },
  { key: 'serverCpuSecondsPer1000', label: 'Temporal server CPU s / 1,000' },
  { key: 'drainJobsPerSecond', label: 'drain jobs/s', ratio: true },
  { key: 'jobs', label: 'jobs' },
];

interface ResourcesFigures {
  heldRssMb: number | null;
  /** This project only: the Temporal server's CPU over the same span (it runs on the same cores). */
  serverCpuSecondsPer1000: number | null;
  peakRssMb: number | null;
  cpuSecondsPer1000: number | null;
  drainJobsPerSecond: number | null;
  jobs: number;
}

/**
 * The shipped worker's environment without the image's two memory settings: V8's own nursery size
 * and glibc's own arena limit (8 per core), the baseline they are measured against.
 */
function withMemoryDefaults(env: Record<string, string>): Record<string, string> {
  return {
    ...env,
    NODE_OPTIONS: (env.NODE_OPTIONS ?? '').replace(/\s*--max-semi-space-size=\S+/, ''),
    MALLOC_ARENA_MAX: String(8 * availableParallelism()),
  };
}

/**
 * One worker process, `count` jobs: every renderer holds its renders, the jobs are submitted
 * (10 submitters) until every one is in the read model, RSS is read with all of them in flight
 * (a few rendering, the rest waiting); then the renderers let go and the jobs drain. CPU counts
 * the submission and the drain; peak RSS is the process's high-water mark.
 */
async function resourcesRun(
  ctx: BenchContext,
  kind: Kind,
  count: number,
  memoryDefaults = false,
): Promise<ResourcesFigures> {
  const sims = await startSims();
  const db = await openBenchDb();
  let worker: WorkerProcess | undefined;
  let h: Harness | undefined;
  try {
    h = await harness(ctx, kind, sims, db, false, memoryDefaults);
    worker = h.spawn();
    await worker.ready;
    await sleep(1000);
    const serverPid = kind === 'temporal' ? temporalServerPid(ctx.env.address) : null;
    const serverBefore = serverPid ? procUsage(serverPid) : null;
    const before = worker.usage();
    for (const sim of Object.values(sims.sims)) sim.hold();
    const jobs = jobMix({ count, durationMs: 0, seed: 31 });
    const ids = jobs.map((j) => j.id);
    const harnessRef = h;
    await forEachConcurrently(jobs, 10, (job) => harnessRef.submit(job));
    await waitUntil(
      `${kind}: ${count} jobs in the read model`,
      async () => (await rowCount(db, ids)) === ids.length,
      60_000 + count * 100,
    );
    await sleep(3000); // settle: the waiting jobs' workflows leave the cache, positions are published
    const held = worker.usage();
    const released = Date.now();
    for (const sim of Object.values(sims.sims)) sim.release();
    await waitUntil(
      `${kind}: resources jobs completed`,
      async () => (await completedCount(db.db, ids)) === ids.length,
      60_000 + count * 1000,
    );
    const drainSeconds = (Date.now() - released) / 1000;
    const after = worker.usage();
    const serverAfter = serverPid ? procUsage(serverPid) : null;
    if (!before || !held || !after) throw new Error(`${kind}: worker process exited during the run`);
    return {
      heldRssMb: round(held.rssMb, 0),
      peakRssMb: round(after.peakRssMb, 0),
      cpuSecondsPer1000: round(((after.cpuSeconds - before.cpuSeconds) * 1000) / count, 2),
      serverCpuSecondsPer1000:
        serverBefore && serverAfter
          ? round(((serverAfter.cpuSeconds - serverBefore.cpuSeconds) * 1000) / count, 2)
          : null,
      drainJobsPerSecond: round(count / drainSeconds, 1),
      jobs: count,
    };
  } finally {
    for (const sim of Object.values(sims.sims)) sim.release();
    await worker?.stop(5_000);
    await h?.close();
    await sims.close();
    await db.close();
  }
}

async function rowCount(db: BenchDb, ids: string[]): Promise<number> {
  const { rows } = await db.db.query<{ n: string | number }>(
    'select count(*) as n from jobs where id = any($1::uuid[])',
    [ids],
  );
  return Number(rows[0]?.n ?? 0);
}

export async function resourcesScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const results = {} as Record<SystemId, SystemResult>;
  const count = ctx.sizes.resourcesJobs;
  const max = ctx.sizes.footprintMaxJobs;
  if (!ctx.postgres) {
    for (const id of SYSTEM_IDS) {
      results[id] = skipped('no PostgreSQL: a worker process cannot share the in-process PGlite database');
    }
  } else {
    ctx.log('resources', { system: 'temporal', jobs: count });
    const temporal = await resourcesRun(ctx, 'temporal', count);
    ctx.log('resources', { system: 'temporal', jobs: max });
    const atMax = await resourcesRun(ctx, 'temporal', max);
    ctx.log('resources', { system: 'temporal', jobs: count, memory: 'Node and glibc defaults' });
    const defaults = await resourcesRun(ctx, 'temporal', count, true);
    const figures = { ...temporal, heldRssMbAtMax: atMax.heldRssMb };
    results['temporal-1s'] = {
      method: 'measured',
      figures,
      note: `src/worker.ts compiled, with the image's NODE_OPTIONS and MALLOC_ARENA_MAX and a prebuilt workflow bundle; at ${max} jobs held: RSS ${atMax.heldRssMb} MB, peak ${atMax.peakRssMb} MB, ${atMax.cpuSecondsPer1000} CPU s / 1,000, drain ${atMax.drainJobsPerSecond} jobs/s; at ${count} jobs without the image's memory settings (V8's own nursery size, glibc's 8 malloc arenas per core): RSS ${defaults.heldRssMb} MB, peak ${defaults.peakRssMb} MB, ${defaults.cpuSecondsPer1000} CPU s / 1,000`,
    };
    results['temporal-100ms'] = {
      method: 'measured',
      figures,
      note: 'same run as temporal-1s (instant renders take one status poll at either interval)',
    };
    const peerNote = 'jobs wait in the table (or Redis), not in the worker: measured at the first size only';
    ctx.log('resources', { system: 'old-poller', jobs: count });
    const old = { ...(await resourcesRun(ctx, 'old-poller', count)), heldRssMbAtMax: null };
    results['old-poller-1s'] = { method: 'measured', figures: old, note: peerNote };
    results['old-poller-60s'] = {
      method: 'model',
      figures: old,
      note: 'same process as old-poller-1s: the interval changes when the work is done, not how much',
    };
    if (ctx.unavailable.bullmq) results.bullmq = skipped(ctx.unavailable.bullmq);
    else {
      ctx.log('resources', { system: 'bullmq', jobs: count });
      results.bullmq = {
        method: 'measured',
        figures: { ...(await resourcesRun(ctx, 'bullmq', count)), heldRssMbAtMax: null },
        note: peerNote,
      };
    }
  }
  return {
    id: 'resources',
    title:
      'Resources (worker process only: RSS with every job in flight, peak RSS, CPU seconds per 1,000 instant jobs, drain rate)',
    params: {
      jobs: count,
      maxJobs: max,
      excluded: 'Temporal server, Redis and PostgreSQL processes',
    },
    columns: RESOURCE_COLUMNS,
    results,
    ratios: computeRatios(RESOURCE_COLUMNS, results),
  };
}

const FLEET_COLUMNS: Column[] = [
  { key: 'peakTotal', label: 'peak renders (cap 10)', ratio: true },
  { key: 'peakManim', label: 'peak Manim (cap 4)', ratio: true },
  { key: 'lost', label: 'jobs not completed', ratio: true },
  { key: 'jobs', label: 'jobs' },
];
const FLEET_PROCESSES = 3;
const FLEET_RENDER_MS = 500;

/**
 * Caps across a fleet: three worker processes share one database (and one Temporal namespace or
 * Redis), mixed jobs are submitted, and one process is killed with SIGKILL once half the jobs
 * have started. The figures are the renderers' own count of renders in flight, all renderers
 * together and Manim alone, and the jobs that never completed.
 */
async function fleetRun(ctx: BenchContext, kind: Kind, count: number) {
  const sims = await startSims();
  const db = await openBenchDb();
  const workers: WorkerProcess[] = [];
  let h: Harness | undefined;
  const flying = new Map<string, 'manim' | 'general'>();
  let peakTotal = 0;
  let peakManim = 0;
  const stopWatching = Object.entries(sims.sims).map(([renderer, sim]) =>
    sim.onEvent((event) => {
      if (event.type === 'started') flying.set(event.renderId, renderer === 'manim' ? 'manim' : 'general');
      else if (event.type === 'finished' || event.type === 'cancelled') flying.delete(event.renderId);
      peakTotal = Math.max(peakTotal, flying.size);
      peakManim = Math.max(peakManim, [...flying.values()].filter((p) => p === 'manim').length);
    }),
  );
  try {
    // Scaled timeouts for the old poller: its killed renders come back in seconds, not 10 minutes.
    h = await harness(ctx, kind, sims, db, true);
    for (let i = 0; i < FLEET_PROCESSES; i += 1) workers.push(h.spawn());
    await Promise.all(workers.map((w) => w.ready));
    const jobs = jobMix({ count, durationMs: FLEET_RENDER_MS, mixedPriorities: true, seed: 41 });
    const ids = jobs.map((j) => j.id);
    const harnessRef = h;
    await forEachConcurrently(jobs, 10, (job) => harnessRef.submit(job));
    await waitUntil(`${kind}: half the fleet jobs started`, () => sims.firstStart.size >= count / 2, 120_000);
    workers[0]!.kill9();
    await waitUntil(
      `${kind}: fleet jobs completed`,
      async () => (await completedCount(db.db, ids)) === ids.length,
      180_000,
      200,
    ).catch(() => undefined);
    return { peakTotal, peakManim, lost: ids.length - (await completedCount(db.db, ids)), jobs: count };
  } finally {
    for (const stop of stopWatching) stop();
    for (const worker of workers) await worker.stop(5_000);
    await h?.close();
    await sims.close();
    await db.close();
  }
}

export async function fleetScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const results = {} as Record<SystemId, SystemResult>;
  const count = ctx.sizes.fleetJobs;
  if (!ctx.postgres) {
    for (const id of SYSTEM_IDS) {
      results[id] = skipped('no PostgreSQL: worker processes cannot share the in-process PGlite database');
    }
  } else {
    for (const kind of ['temporal', 'old-poller', 'bullmq'] as const) {
      if (kind === 'bullmq' && ctx.unavailable.bullmq) {
        results.bullmq = skipped(ctx.unavailable.bullmq);
        continue;
      }
      ctx.log('fleet', { system: kind, processes: FLEET_PROCESSES, jobs: count });
      const figures = await fleetRun(ctx, kind, count);
      if (kind === 'temporal') {
        results['temporal-1s'] = { method: 'measured', figures };
        results['temporal-100ms'] = {
          method: 'measured',
          figures,
          note: 'same run as temporal-1s: worker processes run production settings',
        };
      } else if (kind === 'old-poller') {
        results['old-poller-1s'] = {
          method: 'measured',
          figures,
          note: 'its render timeout scaled to 10 s so the killed process’s renders come back within the run',
        };
        results['old-poller-60s'] = {
          method: 'model',
          figures,
          note: 'the same claim statement as old-poller-1s; a longer interval changes when, not how',
        };
      } else results.bullmq = { method: 'measured', figures };
    }
  }
  return {
    id: 'fleet',
    title: `Caps across ${FLEET_PROCESSES} worker processes, one killed with SIGKILL midway (renderers' own count)`,
    params: {
      processes: FLEET_PROCESSES,
      jobs: count,
      renderMs: FLEET_RENDER_MS,
      caps: { total: 10, manim: 4 },
    },
    columns: FLEET_COLUMNS,
    results,
    ratios: computeRatios(FLEET_COLUMNS, results),
  };
}
