/**
 * Priority on the real dev server: with the caps full, each freed permit goes to the waiting job
 * of highest priority, and within a priority to the one accepted first, whether the jobs were
 * submitted one by one or back to back. The start order is what the renderer simulators saw; the
 * native priority key still reaches every render task (activities inherit it from their workflow).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import { PRIORITY_KEY } from '../../src/shared/constants';
import type { Priority, RenderQueue } from '../../src/shared/constants';
import { devServerEnv } from '../../dev/temporal';
import { admissionIdle, admissionWaitingFor, startStack, watchRenders } from '../../dev/stack';
import type { RenderWatch, Stack } from '../../dev/stack';

let env: TestWorkflowEnvironment;
let stack: Stack;
let watch: RenderWatch;
/** The priority key each render attempt carried when Core handed it to the worker, by job id. */
const deliveredPriority = new Map<string, number | undefined>();

const CAPS = { total: 3, manim: 2 };

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, {
    caps: CAPS,
    simulator: { defaultDurationMs: 100, progressSteps: 2 },
    renderInterceptors: [
      (ctx) => ({
        inbound: {
          execute: (input, next) => {
            const { jobId } = input.args[0] as { jobId: string };
            deliveredPriority.set(jobId, ctx.info.priority?.priorityKey);
            return next(input);
          },
        },
      }),
    ],
  });
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
});

type JobType = 'doubt' | 'concept_explainer' | 'solution_walkthrough';

interface Submitted {
  jobId: string;
  workflowId: string;
}

async function submit(jobType: JobType, priority: Priority): Promise<Submitted> {
  const { jobId, workflowId } = await submitJob(env.client, {
    jobType,
    priority,
    payload: { topic: 'order' },
  });
  return { jobId, workflowId };
}

const inFlight = (): string[] => Object.values(stack.sims).flatMap((sim) => sim.stats().inFlightJobIds);

/** Frees the oldest render in flight, one at a time, and returns `waiting` in the order they started. */
async function releaseOneByOne(waiting: Submitted[]): Promise<string[]> {
  const ids = new Set(waiting.map((job) => job.jobId));
  const startedIds = (): string[] => watch.starts.filter((s) => ids.has(s.jobId)).map((s) => s.jobId);
  await admissionWaitingFor(env.client, [...ids]);
  while (startedIds().length < waiting.length) {
    const count = startedIds().length;
    const oldest = watch.starts.find((s) => inFlight().includes(s.jobId));
    if (!oldest) throw new Error('nothing in flight to release');
    for (const sim of Object.values(stack.sims)) sim.release(oldest.jobId);
    await watch.until('a waiting job to start', () => startedIds().length > count);
  }
  return startedIds();
}

const EXPECTED_ORDER = [
  'high-0',
  'high-1',
  'high-2',
  'high-3',
  'high-4',
  'low-0',
  'low-1',
  'low-2',
  'low-3',
  'low-4',
];

/**
 * Fills the caps with held renders of `pool`'s kind, queues 5 low then 5 high jobs, frees one
 * permit at a time and returns the start order as labels (`high-2` = the third high job).
 */
async function startOrder(pool: RenderQueue, jobTypes: JobType[]): Promise<string[]> {
  for (const sim of Object.values(stack.sims)) sim.hold();
  const slots = pool === 'manim' ? CAPS.manim : CAPS.total;
  const fillers: Submitted[] = [];
  for (let i = 0; i < slots; i += 1) fillers.push(await submit(jobTypes[i % jobTypes.length]!, 'medium'));
  await watch.until('the fillers to render', () => fillers.every((f) => inFlight().includes(f.jobId)));

  // Back to back: each submit returns once the server accepted the start, which fixes the order.
  const low: Submitted[] = [];
  const high: Submitted[] = [];
  for (let i = 0; i < 5; i += 1) low.push(await submit(jobTypes[i % jobTypes.length]!, 'low'));
  for (let i = 0; i < 5; i += 1) high.push(await submit(jobTypes[i % jobTypes.length]!, 'high'));
  const waiting = [...low, ...high];
  expect(watch.starts.filter((s) => waiting.some((job) => job.jobId === s.jobId))).toEqual([]);

  const order = await releaseOneByOne(waiting);
  // Each render reached the worker carrying its workflow's priority key (inherited; the workflow sets none).
  expect(waiting.map((job) => deliveredPriority.get(job.jobId))).toEqual([
    ...low.map(() => PRIORITY_KEY.low),
    ...high.map(() => PRIORITY_KEY.high),
  ]);
  return order.map((jobId) => {
    const h = high.findIndex((job) => job.jobId === jobId);
    return h >= 0 ? `high-${h}` : `low-${low.findIndex((job) => job.jobId === jobId)}`;
  });
}

const scenarios: [string, RenderQueue, JobType[]][] = [
  ['general (revideo, orchestrator)', 'general', ['concept_explainer', 'solution_walkthrough']],
  ['Manim', 'manim', ['doubt']],
];

test.each(scenarios)(
  '%s: with the caps full, every high job starts before any low job, and in submit order within a priority, submitted back to back',
  async (_, pool, jobTypes) => {
    expect(await startOrder(pool, jobTypes)).toEqual(EXPECTED_ORDER);
  },
);
