/**
 * `job_queue_config` changes at run time, seen where they matter: renders in flight at the
 * renderer simulators. Each test runs its own stack (fresh database, LiveQueueConfig wired to the
 * limiter as src/worker/runtime.ts does) on one dev server, with a short refresh interval.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { submitJob } from '../../src/client/submit';
import { renderJobWorkflowId } from '../../src/shared/constants';
import { queueConfigFromDb } from '../../src/store/postgres-store';
import { devServerEnv, eventually } from '../helpers/temporal';
import { startStack, watchRenders } from '../helpers/stack';
import type { RenderWatch, Stack } from '../helpers/stack';

// Default peak window is 06:00-21:00 UTC.
const OFF_PEAK = new Date('2026-06-15T03:00:00Z');
const PEAK = new Date('2026-06-15T12:00:00Z');
/** Long enough for a render over the cap to reach a simulator if the limiter let one through. */
const SETTLE_MS = 400;

let env: TestWorkflowEnvironment;
let stack: Stack | undefined;
let watch: RenderWatch | undefined;

beforeAll(async () => {
  env = await devServerEnv();
});

afterEach(async () => {
  watch?.stop();
  await stack?.close();
  stack = undefined;
});

afterAll(async () => {
  await env?.teardown();
});

type JobType = 'doubt' | 'concept_explainer' | 'solution_walkthrough';

/** Manim and general jobs interleaved, so both queues keep a backlog (no idle poller parks a slot). */
async function submitMixed(s: Stack, manim: number, general: number): Promise<string[]> {
  const types: JobType[] = [];
  for (let i = 0; i < Math.max(manim, general); i += 1) {
    if (i < manim) types.push('doubt');
    if (i < general) types.push(i % 2 ? 'solution_walkthrough' : 'concept_explainer');
  }
  const ids: string[] = [];
  for (const jobType of types) {
    ids.push((await submitJob(env.client, { jobType, payload: { n: ids.length } })).workflowId);
  }
  return ids;
}

const inFlightJobIds = (s: Stack): string[] =>
  Object.values(s.sims).flatMap((sim) => sim.stats().inFlightJobIds);

/** Releases the oldest render in flight and waits until its job has finished (its slot is free). */
async function releaseOne(s: Stack): Promise<void> {
  const jobId = inFlightJobIds(s)[0];
  if (!jobId) throw new Error('nothing in flight to release');
  for (const sim of Object.values(s.sims)) sim.release(jobId);
  await env.client.workflow.getHandle(renderJobWorkflowId(jobId)).result();
}

type ConfigColumns = Record<string, string | number>;

async function setConfig(s: Stack, columns: ConfigColumns): Promise<void> {
  const names = Object.keys(columns);
  const sets = names.map((name, i) => `${name} = $${i + 1}`).join(', ');
  await s.db.query(`UPDATE job_queue_config SET ${sets} WHERE id = 1`, Object.values(columns));
}

async function finishAll(s: Stack, workflowIds: string[]): Promise<void> {
  for (const sim of Object.values(s.sims)) sim.release();
  await Promise.all(workflowIds.map((id) => env.client.workflow.getHandle(id).result()));
}

test('lowering max_concurrent_renders 10 -> 3 starts nothing until fewer than 3 run, then holds 3; raising it back starts waiting renders within one refresh', async () => {
  const intervalMs = 500;
  const s = (stack = await startStack(env, {
    simulator: { defaultDurationMs: 100, progressSteps: 2 },
    liveConfig: { now: () => OFF_PEAK, intervalMs },
  }));
  const w = (watch = watchRenders(s.sims));
  for (const sim of Object.values(s.sims)) sim.hold();
  // Enough of both kinds that both queues still have a backlog when the cap goes back to 10.
  const ids = await submitMixed(s, 10, 16);
  await w.until('10 renders in flight', (x) => x.current().total === 10);
  await sleep(SETTLE_MS);
  expect(w.current().total).toBe(10);

  await setConfig(s, { max_concurrent_renders: 3 });
  await eventually('cap 3 applied', () => s.limiter.getCaps().total === 3, 5_000, 20);
  expect(s.limiter.getCaps()).toEqual({ total: 3, manim: 3 });

  // 10 -> 3 in flight: each finished render frees a slot, none may be handed out.
  const startsAtLowering = w.starts.length;
  for (let inFlight = 9; inFlight >= 3; inFlight -= 1) {
    await releaseOne(s);
    await sleep(SETTLE_MS / 2);
    expect({ inFlight: w.current().total, newStarts: w.starts.length - startsAtLowering }).toEqual({
      inFlight,
      newStarts: 0,
    });
  }
  // Below 3 now: each finished render lets exactly one waiting render start.
  w.resetPeak();
  for (let round = 1; round <= 3; round += 1) {
    await releaseOne(s);
    await w.until(`refill ${round} to 3`, (x) => x.starts.length - startsAtLowering === round);
    await sleep(SETTLE_MS);
    expect({ inFlight: w.current().total, newStarts: w.starts.length - startsAtLowering }).toEqual({
      inFlight: 3,
      newStarts: round,
    });
  }
  expect(w.peak().total).toBe(3);

  // Back to 10: the next refresh (at most one interval away) raises the cap and wakes the pollers.
  const startsBeforeRaise = w.starts.length;
  await setConfig(s, { max_concurrent_renders: 10 });
  const raisedAt = Date.now();
  await w.until('a waiting render to start after the raise', (x) => x.starts.length > startsBeforeRaise);
  const waitedMs = Date.now() - raisedAt;
  // One interval, plus slack for the poll and HTTP call after the refresh on a loaded 2-core machine
  // (the default interval is 15 s, so this still tells a refresh-driven start from any other).
  expect(waitedMs).toBeLessThan(intervalMs + 750);
  await w.until('10 renders in flight again', (x) => x.current().total === 10);
  await sleep(SETTLE_MS);
  expect(w.current().total).toBe(10);

  await finishAll(s, ids);
});

test('invalid config rows and a database outage leave the last good caps in force, render for render', async () => {
  const intervalMs = 300;
  let pool: Pool | undefined;
  const s = (stack = await startStack(env, {
    simulator: { defaultDurationMs: 100, progressSteps: 2 },
    liveConfig: {
      now: () => PEAK,
      intervalMs,
      // The config is read over a connection of its own, so the test can cut it like an outage would.
      read: async ({ url }) => {
        pool ??= new Pool({
          connectionString: url,
          max: 1,
          connectionTimeoutMillis: 2_000,
          query_timeout: 5_000,
        });
        const { rows } = await pool.query<Record<string, unknown>>(
          'SELECT * FROM job_queue_config WHERE id = 1',
        );
        if (!rows[0]) throw new Error('job_queue_config has no row');
        return queueConfigFromDb(rows[0]);
      },
    },
  }));
  try {
    const w = (watch = watchRenders(s.sims));
    // The last good config: 4 off-peak, x1.5 in peak hours = 6 renders, Manim 4.
    const good: ConfigColumns = {
      max_concurrent_renders: 4,
      max_manim_renders: 4,
      peak_worker_multiplier: 1.5,
      time_zone: 'UTC',
    };
    await setConfig(s, good);
    await eventually('cap 6 applied', () => s.limiter.getCaps().total === 6, 5_000, 20);
    expect(s.limiter.getCaps()).toEqual({ total: 6, manim: 4 });

    for (const sim of Object.values(s.sims)) sim.hold();
    const ids = await submitMixed(s, 10, 12);
    await w.until('6 renders in flight', (x) => x.current().total === 6);
    await sleep(SETTLE_MS);
    w.resetPeak();

    /** The good caps still rule: a finished render is replaced by exactly one, never more. */
    const expectGoodCapsInForce = async (what: string): Promise<void> => {
      const starts = w.starts.length;
      await releaseOne(s);
      await w.until(`a render to replace the finished one (${what})`, (x) => x.starts.length > starts);
      await sleep(SETTLE_MS);
      expect({ what, inFlight: w.current().total, newStarts: w.starts.length - starts }).toEqual({
        what,
        inFlight: 6,
        newStarts: 1,
      });
      expect(s.limiter.getCaps()).toEqual({ total: 6, manim: 4 });
      expect(s.liveConfig!.current()).toMatchObject({ maxConcurrentRenders: 4, peakWorkerMultiplier: 1.5 });
    };
    const warnings = (): string[] => s.configLog.filter((l) => l.level === 'warn').map((l) => l.message);

    const badRows: [string, ConfigColumns, string][] = [
      ['negative cap', { max_concurrent_renders: -1 }, 'maxConcurrentRenders'],
      ['zero cap', { max_concurrent_renders: 0 }, 'maxConcurrentRenders'],
      ['multiplier 0.5', { peak_worker_multiplier: 0.5 }, 'peakWorkerMultiplier'],
      ['unknown time zone', { time_zone: 'Mars/Olympus' }, 'timeZone'],
    ];
    for (const [bad, change, field] of badRows) {
      const seen = warnings().length;
      await setConfig(s, { ...good, ...change });
      // The row was read and rejected (not merely not read yet) ...
      await eventually(`${field} to be rejected`, () => warnings().length > seen, 5_000, 20);
      expect(warnings().slice(seen)).toEqual([
        expect.stringMatching(new RegExp(`rejected: ${field}: .*keeping last good config`)),
      ]);
      await sleep(intervalMs);
      // ... and the renders still run at the last good caps.
      await expectGoodCapsInForce(bad);
    }

    // Outage: the config connection is gone; every read fails from now on.
    await setConfig(s, good);
    await sleep(intervalMs * 2);
    const seen = warnings().length;
    await pool?.end();
    await eventually('the failed read to be noticed', () => warnings().length > seen, 5_000, 20);
    expect(warnings().slice(seen)).toEqual([
      expect.stringMatching(/^job_queue_config read failed: .*keeping last good config/),
    ]);
    await sleep(intervalMs);
    await expectGoodCapsInForce('database outage');
    await expectGoodCapsInForce('database outage, later');

    expect(w.peak().total).toBe(6);
    expect(w.peak().manim).toBeLessThanOrEqual(4);
    await finishAll(s, ids);
  } finally {
    await pool?.end().catch(() => undefined);
  }
});
