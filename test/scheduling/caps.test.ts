/**
 * Render caps on the real dev server, counted where they matter: renders in flight at the
 * renderer simulators. Caps come from the real `job_queue_config` row through LiveQueueConfig,
 * wired to the limiter exactly as src/worker/runtime.ts does, with a clock the test moves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/client/submit';
import { devServerEnv } from '../helpers/temporal';
import { startStack, watchRenders } from '../helpers/stack';
import type { RenderWatch, Stack } from '../helpers/stack';

// Default peak window is 06:00-21:00 UTC.
const OFF_PEAK = new Date('2026-06-15T03:00:00Z');
const PEAK = new Date('2026-06-15T12:00:00Z');
/** Long enough for a render over the cap to reach a simulator if the limiter let one through. */
const SETTLE_MS = 400;

let env: TestWorkflowEnvironment;
let stack: Stack;
let watch: RenderWatch;
let clock = OFF_PEAK;

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, {
    simulator: { defaultDurationMs: 100, progressSteps: 2 },
    liveConfig: { now: () => clock, intervalMs: 300 },
  });
  watch = watchRenders(stack.sims);
});

afterAll(async () => {
  watch?.stop();
  await stack?.close();
  await env?.teardown();
});

afterEach(() => {
  for (const sim of Object.values(stack.sims)) sim.release();
});

type JobType = 'doubt' | 'concept_explainer' | 'solution_walkthrough';

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

async function allCompleted(workflowIds: string[]): Promise<void> {
  await Promise.all(workflowIds.map((id) => env.client.workflow.getHandle(id).result()));
}

const completedRenders = (): number =>
  Object.values(stack.sims).reduce((n, sim) => n + sim.stats().completed.length, 0);

const manimInFlight = (): string[] => stack.sims.manim.stats().inFlightJobIds;

test('12 Manim jobs: never more than 4 Manim renders in flight, and exactly 4 while a backlog waits', async () => {
  stack.sims.manim.hold();
  watch.resetPeak();
  const ids = await submitAll(Array<JobType>(12).fill('doubt'));
  await watch.until('4 Manim renders in flight', (w) => w.current().manim === 4);
  await sleep(SETTLE_MS);
  expect(watch.current().manim).toBe(4);

  // One release at a time: each frees one slot, and the next queued job takes it.
  let started = stack.sims.manim.stats().started.length;
  while (started < ids.length) {
    stack.sims.manim.release(manimInFlight()[0]);
    const before = started;
    await watch.until(
      'the next Manim render to start',
      () => stack.sims.manim.stats().started.length > before,
    );
    await sleep(SETTLE_MS);
    started = stack.sims.manim.stats().started.length;
    expect({ started: started - before, inFlight: watch.current().manim }).toEqual({
      started: 1,
      inFlight: 4,
    });
  }
  stack.sims.manim.release();
  await allCompleted(ids);

  expect(watch.peak().manim).toBe(4);
  expect(stack.sims.manim.stats().maxInFlight).toBe(4);
  expect(stack.sims.manim.stats().completed).toHaveLength(12);
});

/*
 * Why the mix keeps BOTH queues backlogged: the limiter counts a slot reserved by an idle poller
 * (one per render queue, RENDER_WORKER_POLLERS) against the total, because Core reserves before it
 * polls. With the Manim queue empty its poller parks one slot, so general renders top out at
 * total - 1 and "reach the total" would never hold. With both queues backlogged every reservation
 * turns into a render at once (how the total splits between the queues depends on which poller
 * reserved first), Manim never above its own cap. 10 Manim + 20 general leaves a backlog in both queues at 10 and at 15.
 */
test('30 mixed jobs: in flight never above 10 off-peak, reaches and never exceeds 15 in peak hours, Manim at most 4', async () => {
  clock = OFF_PEAK;
  await stack.liveConfig!.refresh();
  expect(stack.limiter.getCaps()).toEqual({ total: 10, manim: 4 });
  for (const sim of Object.values(stack.sims)) sim.hold();
  watch.resetPeak();
  const jobTypes: JobType[] = [];
  for (let i = 0; i < 10; i += 1) jobTypes.push('doubt', 'concept_explainer', 'solution_walkthrough');
  const completedBefore = completedRenders();
  const ids = await submitAll(jobTypes);

  await watch.until('10 renders in flight off-peak', (w) => w.current().total === 10);
  await sleep(SETTLE_MS);
  // How the 10 split between the queues depends on which poller reserved first; the caps don't.
  expect(watch.current().total).toBe(10);
  expect(watch.peak().total).toBe(10);
  expect(watch.peak().manim).toBeLessThanOrEqual(4);

  // Peak hours start: the next refresh re-evaluates the clock, raises the caps, wakes the pollers.
  clock = PEAK;
  await watch.until('15 renders in flight in peak hours', (w) => w.current().total === 15);
  await sleep(SETTLE_MS);
  expect(stack.limiter.getCaps()).toEqual({ total: 15, manim: 4 });
  expect(watch.current().total).toBe(15);
  expect(watch.peak().total).toBe(15);
  expect(watch.peak().manim).toBeLessThanOrEqual(4);

  // Drain: renders finish on their own now, the rest start as slots free; the caps still hold.
  for (const sim of Object.values(stack.sims)) sim.release();
  await allCompleted(ids);
  // Once the Manim backlog is gone general renders may take more of the 15; the total may not.
  expect(watch.peak()).toMatchObject({ total: 15, manim: 4 });
  expect(completedRenders() - completedBefore).toBe(30);
});
