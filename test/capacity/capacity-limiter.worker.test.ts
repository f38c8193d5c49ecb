/**
 * The limiter against a real Temporal dev server: two render Workers (manim and general
 * queues) share one CapacityLimiter through their tuners, exactly as the worker process does.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import {
  CapacityLimiter,
  RENDER_ACTIVITY_POLLER_BEHAVIOR,
  renderWorkerTuner,
} from '../../src/capacity/capacity-limiter';
import type { RenderQueue } from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { runOneActivity, type LimiterTestActivities } from './limiter-workflows';

let env: TestWorkflowEnvironment | undefined;

beforeAll(async () => {
  env = await devServerEnv();
});

afterAll(async () => {
  await env?.teardown();
});

test('render Workers sharing one limiter stay within total 3 / manim 2, run more once caps are raised, and release every slot on shutdown', async () => {
  const testEnv = env!;
  const id = randomUUID().slice(0, 8);
  const taskQueue = {
    workflow: `limiter-wf-${id}`,
    manim: `limiter-manim-${id}`,
    general: `limiter-general-${id}`,
  };
  const limiter = new CapacityLimiter({ caps: { total: 3, manim: 2 } });

  const inFlight = { manim: 0, general: 0 };
  const peak = { beforeRaise: { total: 0, manim: 0 }, afterRaise: { total: 0, manim: 0 } };
  const overCap: string[] = [];
  let raised = false;
  let completed = 0;

  const activitiesFor = (queue: RenderQueue): LimiterTestActivities => ({
    async hold(label) {
      inFlight[queue] += 1;
      const total = inFlight.manim + inFlight.general;
      const seen = raised ? peak.afterRaise : peak.beforeRaise;
      seen.total = Math.max(seen.total, total);
      seen.manim = Math.max(seen.manim, inFlight.manim);
      const caps = limiter.getCaps();
      if (total > caps.total || inFlight.manim > caps.manim) {
        overCap.push(`${label}: ${total} total / ${inFlight.manim} manim over ${JSON.stringify(caps)}`);
      }
      try {
        await sleep(300);
      } finally {
        inFlight[queue] -= 1;
        completed += 1;
      }
    },
  });

  const common = { connection: testEnv.nativeConnection, namespace: testEnv.namespace ?? 'default' };
  const workflowWorker = await Worker.create({
    ...common,
    taskQueue: taskQueue.workflow,
    workflowsPath: require.resolve('./limiter-workflows'),
  });
  const renderWorker = (queue: RenderQueue): Promise<Worker> =>
    Worker.create({
      ...common,
      taskQueue: taskQueue[queue],
      activities: activitiesFor(queue),
      tuner: renderWorkerTuner(limiter, queue),
      activityTaskPollerBehavior: RENDER_ACTIVITY_POLLER_BEHAVIOR,
    });
  const manimWorker = await renderWorker('manim');
  const generalWorker = await renderWorker('general');

  const scenario = async (): Promise<void> => {
    const starts = [];
    for (let i = 0; i < 10; i += 1) {
      for (const queue of ['manim', 'general'] as const) {
        starts.push(
          testEnv.client.workflow.start(runOneActivity, {
            taskQueue: taskQueue.workflow,
            workflowId: `limiter-${id}-${queue}-${i}`,
            args: [taskQueue[queue], `${queue}-${i}`],
          }),
        );
      }
    }
    const handles = await Promise.all(starts);
    // Well before the backlog drains (20 x 300 ms at 3 wide is ~2 s), raise the caps live.
    await eventually('six renders completed', () => completed >= 6, 60_000, 10);
    raised = true;
    limiter.setCaps({ total: 6, manim: 4 });
    await Promise.all(handles.map((handle) => handle.result()));
  };

  await workflowWorker.runUntil(manimWorker.runUntil(generalWorker.runUntil(scenario())));

  expect(overCap).toEqual([]);
  expect(completed).toBe(20);
  expect(peak.beforeRaise.total).toBe(3);
  expect(peak.beforeRaise.manim).toBeLessThanOrEqual(2);
  expect(peak.afterRaise.total).toBeGreaterThan(3);
  expect(peak.afterRaise.total).toBeLessThanOrEqual(6);
  expect(peak.afterRaise.manim).toBeLessThanOrEqual(4);
  // Shutdown gave back every reservation, including those held by idle pollers.
  expect(limiter.snapshot()).toEqual({
    total: { used: 0, reserved: 0, cap: 6 },
    manim: { used: 0, reserved: 0, cap: 4 },
    general: { used: 0, reserved: 0, cap: 6 },
    waiting: { manim: 0, general: 0 },
  });
});
