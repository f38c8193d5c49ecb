/**
 * Scrapes /metrics of the real worker runtime (the code `src/worker.ts` runs) while renders
 * are in flight and after they finish, against a dev server, simulators and a real database.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import { loadEnv } from '../../src/config/env';
import { JsonLogger } from '../../src/observability/logger';
import { startStackSimulators } from '../../dev/stack';
import { openJobStore } from '../../src/store/open-store';
import { installRuntime, startWorkerRuntime } from '../../src/worker/runtime';
import type { WorkerRuntime } from '../../src/worker/runtime';
import { devServerEnv, eventually } from '../../dev/temporal';

let env: TestWorkflowEnvironment;
let sims: Awaited<ReturnType<typeof startStackSimulators>>;
let runtime: WorkerRuntime;
let running: Promise<void>;
const logLines: string[] = [];
const logger = new JsonLogger('INFO', (line) => logLines.push(line));

beforeAll(async () => {
  // The SDK's logs (activities' "job transition" lines included) go through our JSON logger, as in src/worker.ts.
  installRuntime({ LOG_LEVEL: 'INFO', METRICS_PORT: undefined }, logger);
  env = await devServerEnv();
  sims = await startStackSimulators({
    defaultDurationMs: 300,
  });
  const config = loadEnv({
    TEMPORAL_ADDRESS: env.address,
    MANIM_API_URL: sims.urls.manim,
    REVIDEO_API_URL: sims.urls.revideo,
    ORCHESTRATOR_API_URL: sims.urls.orchestrator,
    PGLITE_DIR: 'memory://',
    METRICS_PORT: '0',
    INTAKE_INTERVAL_SECONDS: '0',
  });
  const opened = await openJobStore(config);
  runtime = await startWorkerRuntime({
    env: config,
    logger,
    opened,
    listenForSighup: false,
  });
  running = runtime.run().finally(() => opened.close());
});

afterAll(async () => {
  runtime?.shutdown();
  await running;
  await sims?.close();
  await env?.teardown();
});

async function scrape(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${runtime.metricsServer!.port}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('/metrics shows renders in flight during a run and completed jobs after it, with sane values', async () => {
  sims.simulators.manim.hold();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await submitJob(runtime.client, { jobType: 'doubt', priority: 'high', payload: { i } })).jobId);
  }
  const during = await eventually('3 manim renders in flight on /metrics', async () => {
    const text = await scrape();
    return value(text, 'render_queue_renders_in_flight{renderer_queue="manim"}') === 3 ? text : undefined;
  });
  expect(value(during, 'render_queue_capacity_cap{kind="manim"}')).toBe(4);
  expect([10, 15]).toContain(value(during, 'render_queue_capacity_cap{kind="total"}'));
  expect(value(during, 'render_queue_worker_up')).toBe(1);

  sims.simulators.manim.release();
  for (const id of ids) await runtime.client.workflow.getHandle(`render-job-${id}`).result();
  const after = await eventually('the completed jobs on /metrics', async () => {
    const text = await scrape();
    return value(text, 'render_queue_jobs{status="completed"}') === 3 ? text : undefined;
  });
  expect(value(after, 'render_queue_renders_in_flight{renderer_queue="manim"}')).toBe(0);
  expect(value(after, 'render_queue_render_attempts_total{renderer="manim",outcome="completed"}')).toBe(3);
  expect(value(after, 'render_queue_render_duration_seconds_count{renderer="manim"}')).toBe(3);
  expect(value(after, 'render_queue_depth{priority="high"}')).toBe(0);

  const health = await fetch(`http://127.0.0.1:${runtime.metricsServer!.port}/healthz`);
  expect(health.status).toBe(200);
});

test('the worker logs one structured line per job transition with job id, workflow id and attempt', async () => {
  const transitions = logLines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === 'job transition');
  expect(transitions.length).toBeGreaterThanOrEqual(6);
  for (const entry of transitions) {
    expect(entry).toMatchObject({
      jobId: expect.any(String),
      workflowId: expect.any(String),
      attempt: expect.any(Number),
    });
  }
  expect(transitions.some((entry) => entry.status === 'completed')).toBe(true);
  // Activity lines name the workflow and the activity; never the task token, which would let
  // anyone reading the logs complete the activity.
  const activityLines = logLines.filter((line) => line.includes('"sdkComponent":"activity"'));
  expect(activityLines.length).toBeGreaterThan(0);
  for (const line of activityLines) expect(JSON.parse(line)).toHaveProperty('activityId');
  expect(logLines.filter((line) => line.includes('taskToken'))).toEqual([]);
});
