/**
 * Priority on the real dev server (new matcher, one partition): with a render queue saturated,
 * freed slots go to the waiting job of highest priority, and within a priority to the one
 * submitted first. The start order is what the renderer simulators saw.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/client/submit';
import { PRIORITY_KEY } from '../../src/shared/constants';
import type { Priority, RenderQueue } from '../../src/shared/constants';
import { devServerEnv, eventually } from '../helpers/temporal';
import { startStack, watchRenders } from '../helpers/stack';
import type { RenderWatch, Stack } from '../helpers/stack';

let env: TestWorkflowEnvironment;
let stack: Stack;
let watch: RenderWatch;
/** The priority key each render attempt carried when Core handed it to the worker, by job id. */
const deliveredPriority = new Map<string, number | undefined>();

beforeAll(async () => {
  env = await devServerEnv();
  // Small caps keep the test short: general saturates at 3 (the idle Manim poller parks the 4th
  // slot), Manim at its own cap of 2.
  stack = await startStack(env, {
    caps: { total: 4, manim: 2 },
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

afterEach(() => {
  for (const sim of Object.values(stack.sims)) sim.release();
});

type JobType = 'doubt' | 'concept_explainer' | 'solution_walkthrough';

interface Submitted {
  jobId: string;
  workflowId: string;
  priority: Priority;
}

/**
 * Starts a job and, when `spaced`, waits until its render activity is scheduled (ActivityTaskScheduled
 * recorded, so the history service is already handing it to matching) before returning.
 */
async function submit(jobType: JobType, priority: Priority, spaced = false): Promise<Submitted> {
  const { jobId, workflowId } = await submitJob(env.client, {
    jobType,
    priority,
    payload: { topic: 'order' },
  });
  if (spaced) await renderScheduled(workflowId);
  return { jobId, workflowId, priority };
}

/**
 * The render activity sits in the task queue. Its ActivityTaskScheduled event carries no priority of
 * its own (the workflow sets none); the server merges the workflow's priority in when it hands the
 * task to matching (priorities.Merge), which `deliveredPriority` checks on the worker side.
 */
async function renderScheduled(workflowId: string): Promise<void> {
  const handle = env.client.workflow.getHandle(workflowId);
  await eventually(
    `render of ${workflowId} to be scheduled`,
    async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some((activity) => activity.activityType?.name === 'render');
    },
    15_000,
    20,
  );
}

const inFlightOf = (queue: RenderQueue): string[] =>
  (queue === 'manim' ? [stack.sims.manim] : [stack.sims.revideo, stack.sims.orchestrator]).flatMap(
    (sim) => sim.stats().inFlightJobIds,
  );

/**
 * Starts fillers until every slot the queue can get runs a held render and its poller is blocked
 * waiting for a slot, with no poll open: from then on a new task goes to the queue's backlog, and
 * each freed slot lets the matcher pick the best waiting task.
 */
async function saturate(queue: RenderQueue, jobTypes: JobType[]): Promise<Submitted[]> {
  const fillers: Submitted[] = [];
  for (;;) {
    // Right after a task arrives the poller holds no slot for a moment; wait for its next move.
    const usage = await eventually(`${queue} poller to reserve or wait`, () => {
      const now = stack.limiter.snapshot();
      return now[queue].reserved > 0 || now.waiting[queue] > 0 ? now : undefined;
    });
    if (usage.waiting[queue] > 0 && usage[queue].reserved === 0) return fillers;
    if (fillers.length >= 6) throw new Error(`${queue} never saturated: ${JSON.stringify(usage)}`);
    const filler = await submit(jobTypes[fillers.length % jobTypes.length]!, 'medium');
    fillers.push(filler);
    await watch.until(`filler ${fillers.length} to start`, () => inFlightOf(queue).includes(filler.jobId));
  }
}

/** Frees one slot at a time (the oldest render in flight) and returns the jobs in the order they started. */
async function releaseOneByOne(queue: RenderQueue, waiting: Submitted[]): Promise<string[]> {
  const ids = new Set(waiting.map((job) => job.jobId));
  const startedIds = (): string[] => watch.starts.filter((s) => ids.has(s.jobId)).map((s) => s.jobId);
  while (startedIds().length < waiting.length) {
    const count = startedIds().length;
    const oldest = inFlightOf(queue)[0];
    if (!oldest) throw new Error(`${queue}: nothing in flight to release`);
    for (const sim of Object.values(stack.sims)) sim.release(oldest);
    await watch.until(`a waiting ${queue} job to start`, () => startedIds().length > count);
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
 * Saturates `queue`, queues 5 low then 5 high jobs (one at a time), frees one slot at a time and
 * returns the start order as labels (`high-2` = the third high job submitted).
 */
async function startOrder(queue: RenderQueue, jobTypes: JobType[], spaced: boolean): Promise<string[]> {
  const sims = queue === 'manim' ? [stack.sims.manim] : [stack.sims.revideo, stack.sims.orchestrator];
  for (const sim of sims) sim.hold();
  const fillers = await saturate(queue, jobTypes);

  const low: Submitted[] = [];
  const high: Submitted[] = [];
  for (let i = 0; i < 5; i += 1) low.push(await submit(jobTypes[i % jobTypes.length]!, 'low', spaced));
  for (let i = 0; i < 5; i += 1) high.push(await submit(jobTypes[i % jobTypes.length]!, 'high', spaced));
  const waiting = [...low, ...high];
  for (const job of waiting) await renderScheduled(job.workflowId);
  expect(watch.starts.filter((s) => waiting.some((job) => job.jobId === s.jobId))).toEqual([]);

  const order = await releaseOneByOne(queue, waiting);

  // Each render reached the worker carrying its workflow's priority key (inherited; the workflow sets none).
  expect(waiting.map((job) => deliveredPriority.get(job.jobId))).toEqual([
    ...low.map(() => PRIORITY_KEY.low),
    ...high.map(() => PRIORITY_KEY.high),
  ]);

  for (const sim of sims) sim.release();
  await Promise.all(
    [...fillers, ...waiting].map((job) => env.client.workflow.getHandle(job.workflowId).result()),
  );
  return order.map((jobId) => {
    const h = high.findIndex((job) => job.jobId === jobId);
    return h >= 0 ? `high-${h}` : `low-${low.findIndex((job) => job.jobId === jobId)}`;
  });
}

const scenarios: [string, RenderQueue, JobType[]][] = [
  ['general (revideo, orchestrator)', 'general', ['concept_explainer', 'solution_walkthrough']],
  ['Manim', 'manim', ['doubt']],
];

/*
 * FIFO within a priority is FIFO by arrival at the render task queue: the new matcher orders its
 * backlog by (priority key, task id), and task ids follow arrival. A job reaches the render queue
 * only after its workflow has run a task, read the render policy (an activity) and run another
 * task, and history dispatches those tasks concurrently; jobs started a few milliseconds apart can
 * therefore reach the queue in either order. "Submitted first" is well defined once a job's render
 * is scheduled before the next job is submitted, which is what `spaced` does.
 */
test.each(scenarios)(
  '%s: with the queue saturated, every high job starts before any low job, and in submit order within a priority',
  async (_, queue, jobTypes) => {
    expect(await startOrder(queue, jobTypes, true)).toEqual(EXPECTED_ORDER);
  },
);

test.each(scenarios)(
  '%s: jobs submitted back to back (no spacing): every high job still starts before any low job',
  async (_, queue, jobTypes) => {
    const order = await startOrder(queue, jobTypes, false);
    expect(order.slice(0, 5).sort()).toEqual(EXPECTED_ORDER.slice(0, 5));
    expect(order.slice(5).sort()).toEqual(EXPECTED_ORDER.slice(5));
  },
);
