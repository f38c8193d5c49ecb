/**
 * Render caps on the real dev server, counted where they matter: renders in flight at the
 * renderer simulators. The caps come from the real `job_queue_config` row, read by the admission
 * workflow; peak hours are judged in workflow time, here across a real window edge in a zone
 * with a half-hour offset.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import { ADMISSION_WORKFLOW_ID, renderJobWorkflowId } from '../../src/shared/constants';
import { admissionConfigChangedSignal, admissionSnapshotQuery } from '../../src/shared/admission-messages';
import type { AdmissionCapsInForce } from '../../src/shared/admission-messages';
import { devServerEnv, eventually } from '../../dev/temporal';
import { setFleetCaps } from '../../dev/db';
import { admissionIdle, startStack, watchRenders } from '../../dev/stack';
import type { RenderWatch, Stack } from '../../dev/stack';

/** Long enough for a render over the cap to reach a simulator if admission let one through. */
const SETTLE_MS = 600;

let env: TestWorkflowEnvironment;
let stack: Stack;
let watch: RenderWatch;

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, { simulator: { defaultDurationMs: 100, progressSteps: 2 } });
  watch = watchRenders(stack.sims);
});

afterAll(async () => {
  watch?.stop();
  await stack?.close();
  await env?.teardown();
});

afterEach(async () => {
  for (const sim of Object.values(stack.sims)) sim.release();
  await watch.until('the renderers to go idle', (w) => w.current().total === 0, 30_000);
  await admissionIdle(env.client);
  await stack.db.query(`ALTER TABLE IF EXISTS job_queue_config_away RENAME TO job_queue_config`);
  await stack.db.query(`UPDATE job_queue_config SET peak_worker_multiplier = 1.5, time_zone = 'UTC'`);
  await setFleetCaps(stack.db, { total: 10, manim: 4 });
  await applyConfig({ total: 10, manim: 4, peak: false });
});

type JobType = 'doubt' | 'concept_explainer' | 'solution_walkthrough';

const admission = () => env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID);
const capsInForce = async (): Promise<AdmissionCapsInForce> =>
  (await admission().query(admissionSnapshotQuery)).caps;

/** Tells admission the row changed (as a worker's SIGHUP does) and waits until these caps rule. */
async function applyConfig(expected: AdmissionCapsInForce): Promise<void> {
  await admission().signal(admissionConfigChangedSignal);
  await eventually(
    `caps ${JSON.stringify(expected)}`,
    async () => {
      const caps = await capsInForce();
      return caps.total === expected.total && caps.manim === expected.manim && caps.peak === expected.peak;
    },
    10_000,
  );
}

async function setConfig(columns: Record<string, string | number>): Promise<void> {
  const names = Object.keys(columns);
  const sets = names.map((name, i) => `${name} = $${i + 1}`).join(', ');
  await stack.db.query(`UPDATE job_queue_config SET ${sets} WHERE id = 1`, Object.values(columns));
}

/** Sequential starts, so the queue holds the jobs in a known order. */
async function submitAll(jobTypes: JobType[]): Promise<string[]> {
  const workflowIds: string[] = [];
  for (const jobType of jobTypes) {
    const { workflowId } = await submitJob(env.client, {
      jobType,
      priority: 'medium',
      payload: { n: workflowIds.length },
    });
    workflowIds.push(workflowId);
  }
  return workflowIds;
}

function mixed(manim: number, general: number): JobType[] {
  const types: JobType[] = [];
  for (let i = 0; i < Math.max(manim, general); i += 1) {
    if (i < manim) types.push('doubt');
    if (i < general) types.push(i % 2 ? 'solution_walkthrough' : 'concept_explainer');
  }
  return types;
}

const inFlightJobIds = (): string[] => Object.values(stack.sims).flatMap((sim) => sim.stats().inFlightJobIds);

/** Releases the oldest render in flight and waits until its job has finished (its permit is back). */
async function releaseOne(): Promise<void> {
  const jobId = watch.starts.map((s) => s.jobId).find((id) => inFlightJobIds().includes(id));
  if (!jobId) throw new Error('nothing in flight to release');
  for (const sim of Object.values(stack.sims)) sim.release(jobId);
  await env.client.workflow.getHandle(renderJobWorkflowId(jobId)).result();
}

async function finishAll(workflowIds: string[]): Promise<void> {
  for (const sim of Object.values(stack.sims)) sim.release();
  await Promise.all(workflowIds.map((id) => env.client.workflow.getHandle(id).result()));
}

/** Wall-clock `HH:MM:SS` in `timeZone`, `offsetMs` from now. */
function localClock(timeZone: string, offsetMs: number): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(new Date(Date.now() + offsetMs));
}

test('12 Manim jobs: never more than 4 Manim renders in flight, and exactly 4 while a backlog waits', async () => {
  stack.sims.manim.hold();
  watch.resetPeak();
  const ids = await submitAll(Array<JobType>(12).fill('doubt'));
  await watch.until('4 Manim renders in flight', (w) => w.current().manim === 4);
  await sleep(SETTLE_MS);
  expect(watch.current().manim).toBe(4);

  // One release at a time: each frees one permit, and the next queued job takes it.
  for (let started = 4; started < ids.length; started += 1) {
    const before = stack.sims.manim.stats().started.length;
    await releaseOne();
    await watch.until(
      'the next Manim render to start',
      () => stack.sims.manim.stats().started.length > before,
    );
    await sleep(SETTLE_MS / 2);
    expect(watch.current().manim).toBe(4);
  }
  await finishAll(ids);
  expect(watch.peak().manim).toBe(4);
  expect(stack.sims.manim.stats().maxInFlight).toBe(4);
});

test('30 mixed jobs: exactly 10 in flight off-peak; when the peak window opens (Asia/Kolkata, +05:30) exactly 15; Manim at most 4', async () => {
  // A peak window that opens a few seconds from now on the wall clock of a half-hour zone.
  await setConfig({
    time_zone: 'Asia/Kolkata',
    peak_hour_start: localClock('Asia/Kolkata', 6_000),
    peak_hour_end: localClock('Asia/Kolkata', 3_600_000),
    peak_worker_multiplier: 1.5,
  });
  await applyConfig({ total: 10, manim: 4, peak: false });
  for (const sim of Object.values(stack.sims)) sim.hold();
  watch.resetPeak();
  const ids = await submitAll(mixed(10, 20));

  await watch.until('10 renders in flight off-peak', (w) => w.current().total === 10);
  await sleep(SETTLE_MS);
  expect(watch.peak()).toMatchObject({ total: 10 });
  expect(watch.peak().manim).toBeLessThanOrEqual(4);

  // Past the edge: admission judges peak hours in workflow time at its next round (signalled here).
  await eventually(
    'the peak window to open',
    async () => {
      await admission().signal(admissionConfigChangedSignal);
      return (await capsInForce()).peak;
    },
    20_000,
    1000,
  );
  await watch.until('15 renders in flight in peak hours', (w) => w.current().total === 15);
  await sleep(SETTLE_MS);
  expect(await capsInForce()).toEqual({ total: 15, manim: 4, peak: true });
  expect(watch.peak().total).toBe(15);
  expect(watch.peak().manim).toBeLessThanOrEqual(4);

  await finishAll(ids);
  expect(watch.peak()).toMatchObject({ total: 15 });
  expect(watch.peak().manim).toBeLessThanOrEqual(4);
});

test('lowering max_concurrent_renders 10 -> 3 starts nothing until fewer than 3 run, then holds 3; raising it back starts waiting renders at once', async () => {
  for (const sim of Object.values(stack.sims)) sim.hold();
  const ids = await submitAll(mixed(10, 16));
  await watch.until('10 renders in flight', (x) => x.current().total === 10);

  await setFleetCaps(stack.db, { total: 3, manim: 3 });
  await applyConfig({ total: 3, manim: 3, peak: false });
  // 10 -> 3 in flight: each finished render gives a permit back, none may be handed out.
  const startsAtLowering = watch.starts.length;
  for (let inFlight = 9; inFlight >= 3; inFlight -= 1) {
    await releaseOne();
    await sleep(SETTLE_MS / 2);
    expect({ inFlight: watch.current().total, newStarts: watch.starts.length - startsAtLowering }).toEqual({
      inFlight,
      newStarts: 0,
    });
  }
  // Below 3 now: each finished render lets exactly one waiting render start.
  watch.resetPeak();
  for (let round = 1; round <= 3; round += 1) {
    await releaseOne();
    await watch.until(`refill ${round} to 3`, (x) => x.starts.length - startsAtLowering === round);
    await sleep(SETTLE_MS / 2);
    expect(watch.current().total).toBe(3);
  }
  expect(watch.peak().total).toBe(3);

  await setFleetCaps(stack.db, { total: 10, manim: 4 });
  await applyConfig({ total: 10, manim: 4, peak: false });
  await watch.until('10 renders in flight again', (x) => x.current().total === 10, 5_000);
  await sleep(SETTLE_MS);
  expect(watch.current().total).toBe(10);
  await finishAll(ids);
});

test('invalid config rows and an unreadable config leave the last good caps in force, render for render', async () => {
  await setFleetCaps(stack.db, { total: 6, manim: 4 });
  await applyConfig({ total: 6, manim: 4, peak: false });
  for (const sim of Object.values(stack.sims)) sim.hold();
  const ids = await submitAll(mixed(10, 12));
  await watch.until('6 renders in flight', (x) => x.current().total === 6);
  watch.resetPeak();

  /** The good caps still rule: a finished render is replaced by exactly one, never more. */
  const expectGoodCapsInForce = async (what: string): Promise<void> => {
    // Let admission read (and refuse) the row before the next start is judged.
    await admission().signal(admissionConfigChangedSignal);
    await sleep(SETTLE_MS);
    const starts = watch.starts.length;
    await releaseOne();
    await watch.until(`a render to replace the finished one (${what})`, (x) => x.starts.length > starts);
    await sleep(SETTLE_MS);
    expect({ what, inFlight: watch.current().total, newStarts: watch.starts.length - starts }).toEqual({
      what,
      inFlight: 6,
      newStarts: 1,
    });
    expect(await capsInForce()).toEqual({ total: 6, manim: 4, peak: false });
  };

  for (const [bad, change] of [
    ['negative cap', { max_concurrent_renders: -1 }],
    ['zero cap', { max_concurrent_renders: 0 }],
    ['multiplier 0.5', { peak_worker_multiplier: 0.5 }],
    ['unknown time zone', { time_zone: 'Mars/Olympus' }],
  ] as const) {
    await setConfig(change);
    await expectGoodCapsInForce(bad);
    await setFleetCaps(stack.db, { total: 6, manim: 4 });
    await stack.db.query(`UPDATE job_queue_config SET peak_worker_multiplier = 1.5, time_zone = 'UTC'`);
  }
  // The row cannot be read at all: the last good caps stay.
  await stack.db.query(`ALTER TABLE job_queue_config RENAME TO job_queue_config_away`);
  await expectGoodCapsInForce('config table unreadable');
  expect(watch.peak().total).toBe(6);
  await finishAll(ids);
});

test("the operators' old SQL statements take effect without a restart", async () => {
  // As the old system's runbook writes them; the peak window covers the whole day in UTC here.
  for (const statement of [
    'UPDATE job_queue_config SET max_concurrent_renders = 15 WHERE id = (SELECT id FROM job_queue_config LIMIT 1);',
    "UPDATE job_queue_config SET peak_hour_start = '00:00' WHERE id = (SELECT id FROM job_queue_config LIMIT 1);",
    "UPDATE job_queue_config SET peak_hour_end = '23:59:59' WHERE id = (SELECT id FROM job_queue_config LIMIT 1);",
    'UPDATE job_queue_config SET peak_worker_multiplier = 2.0 WHERE id = (SELECT id FROM job_queue_config LIMIT 1);',
  ]) {
    await stack.db.query(statement);
  }
  // Within admission's next round (signalled here, as a worker's SIGHUP does; else 15 s).
  await applyConfig({ total: 30, manim: 4, peak: true });
  for (const sim of Object.values(stack.sims)) sim.hold();
  const ids = await submitAll(mixed(4, 30));
  await watch.until('30 renders in flight', (w) => w.current().total === 30, 20_000);
  await finishAll(ids);
  await stack.db.query(`UPDATE job_queue_config SET peak_hour_start = '00:00', peak_hour_end = '00:00'`);
});
