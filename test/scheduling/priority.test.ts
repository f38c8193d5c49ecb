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

async function backlog(queue: RenderQueue): Promise<number> {
  const res = await env.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: queue === 'manim' ? 'render-manim' : 'render-general' },
    taskQueueType: 2,
    reportStats: true,
  });
  return Number(res.stats?.approximateBacklogCount ?? -1);
}

async function submit(jobType: JobType, priority: Priority, gate?: RenderQueue): Promise<Submitted> {
  const before = gate ? await backlog(gate) : 0;
  const { jobId, workflowId } = await submitJob(env.client, { jobType, priority, payload: { topic: 'order' } });
  if (gate) {
    const t0 = Date.now();
    await eventually('backlog to grow', async () => (await backlog(gate)) > before, 10_000, 10);
    console.log('backlog grew', before, Date.now() - t0);
  }
  return { jobId, workflowId, priority };
}

const inFlightOf = (queue: RenderQueue): string[] =>
  (queue === 'manim' ? [stack.sims.manim] : [stack.sims.revideo, stack.sims.orchestrator]).flatMap(
    (sim) => sim.stats().inFlightJobIds,
  );

/**
 * Starts fillers until every slot the queue can get runs a held render and its poller waits for
 * a slot with no poll open: from then on a task reaches the queue's backlog, not a waiting poller.
 */
async function saturate(queue: RenderQueue, jobTypes: JobType[]): Promise<Submitted[]> {
  const fillers: Submitted[] = [];
  for (let i = 0; ; i += 1) {
    const usage = stack.limiter.snapshot();
    if (usage.waiting[queue] > 0 && usage[queue].reserved === 0) return fillers;
    if (i > 6) throw new Error(`${queue} never saturated: ${JSON.stringify(usage)}`);
    const filler = await submit(jobTypes[i % jobTypes.length]!, 'medium');
    fillers.push(filler);
    await watch.until(`filler ${i} to start`, () => inFlightOf(queue).includes(filler.jobId));
    // Give the poller time to come back and ask for its next slot.
    await eventually(
      'poller to ask for a slot',
      () => {
        const now = stack.limiter.snapshot();
        return now[queue].reserved === 0 ? now : undefined;
      },
      5_000,
      20,
    ).catch(() => undefined);
  }
}

/**
 * The render activity of every job sits in the task queue. Its ActivityTaskScheduled event has no
 * priority of its own: the workflow sets none, and the server merges the workflow's priority in
 * when it hands the task to matching (priorities.Merge). What counts is checked on delivery below.
 */
async function expectQueued(jobs: Submitted[]): Promise<void> {
  for (const job of jobs) {
    const handle = env.client.workflow.getHandle(job.workflowId);
    await eventually(`render of ${job.priority} job ${job.jobId} to be scheduled`, async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some((activity) => activity.activityType?.name === 'render');
    });
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

async function priorityScenario(queue: RenderQueue, jobTypes: JobType[]): Promise<void> {
  const sims = queue === 'manim' ? [stack.sims.manim] : [stack.sims.revideo, stack.sims.orchestrator];
  for (const sim of sims) sim.hold();
  const fillers = await saturate(queue, jobTypes);

  // Sequential starts: the submit order is well defined.
  const low: Submitted[] = [];
  const high: Submitted[] = [];
  for (let i = 0; i < 5; i += 1) low.push(await submit(jobTypes[i % jobTypes.length]!, 'low', queue));
  for (let i = 0; i < 5; i += 1) high.push(await submit(jobTypes[i % jobTypes.length]!, 'high', queue));
  await expectQueued([...low, ...high]);
  expect(watch.starts.filter((s) => [...low, ...high].some((job) => job.jobId === s.jobId))).toEqual([]);

  const order = await releaseOneByOne(queue, [...low, ...high]);
  const dbg = [];
  for (const job of [...low, ...high]) {
    const h = await env.client.workflow.getHandle(job.workflowId).fetchHistory();
    const ev = h.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'render')!;
    const t = ev.eventTime!;
    dbg.push({ p: job.priority, idx: (job.priority === 'low' ? low : high).indexOf(job), sched: Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6), startIdx: order.indexOf(job.jobId) });
  }
  console.log(JSON.stringify(dbg.sort((a, b) => a.sched - b.sched)));
  const label = (jobId: string): string => {
    const hi = high.findIndex((job) => job.jobId === jobId);
    return hi >= 0 ? `high-${hi}` : `low-${low.findIndex((job) => job.jobId === jobId)}`;
  };
  expect(order.map(label)).toEqual([
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
  ]);

  // Each render was delivered carrying its workflow's priority key (inherited: the workflow sets none).
  expect([...low, ...high].map((job) => deliveredPriority.get(job.jobId))).toEqual([
    ...low.map(() => PRIORITY_KEY.low),
    ...high.map(() => PRIORITY_KEY.high),
  ]);

  for (const sim of sims) sim.release();
  await Promise.all(
    [...fillers, ...low, ...high].map((job) => env.client.workflow.getHandle(job.workflowId).result()),
  );
}

test('general renders: with the queue saturated every high job starts before any low job, each priority first in first out', async () => {
  await priorityScenario('general', ['concept_explainer', 'solution_walkthrough']);
});

test('Manim renders: with the queue saturated every high job starts before any low job, each priority first in first out', async () => {
  await priorityScenario('manim', ['doubt']);
});
