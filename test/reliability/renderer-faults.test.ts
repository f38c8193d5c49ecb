/**
 * Renderer faults end to end (time-skipping server: the 5-minute retry intervals pass in virtual
 * time; renders and faults are real HTTP). Each fault ends in its documented outcome: retryable
 * faults are retried per policy (3 attempts) and either recover or fail with the last error;
 * a refusal fails at once. Either way the row carries an error a person can act on.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import type { JobType, Renderer } from '../../src/shared/constants';
import { jobStateQuery } from '../../src/shared/messages';
import { TIME_SKIPPING_ADMISSION, eventually, timeSkippingEnv } from '../../dev/temporal';
import type { Fault } from './helpers/fault-proxy';
import { startReliabilityStack } from './helpers/reliability-stack';
import type { ReliabilityStack } from './helpers/reliability-stack';

const REQUEST_TIMEOUT_MS = 300;

let env: TestWorkflowEnvironment;
let stack: ReliabilityStack;

beforeAll(async () => {
  env = await timeSkippingEnv();
  stack = await startReliabilityStack(env, {
    faults: true,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    pollErrorToleranceMs: 1500,
    simulator: { defaultDurationMs: 400, progressSteps: 4 },
    admissionOptions: TIME_SKIPPING_ADMISSION,
  });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

const JOB_TYPE: Record<Renderer, JobType> = {
  manim: 'doubt',
  revideo: 'concept_explainer',
  orchestrator: 'solution_walkthrough',
};

interface Scenario {
  name: string;
  renderer: Renderer;
  /** Faults the proxy injects for this job. */
  faults?: Array<{ method: 'POST' | 'GET'; fault: Fault; times?: number }>;
  /** What the simulator itself does (payload.simulate). */
  simulate?: Record<string, unknown>;
  expected: { status: 'completed'; attempts: number } | { status: 'failed'; attempts: number; error: RegExp };
  /** POSTs the renderer may see: one fresh render per attempt; more would be a second render of one attempt. */
  posts: number;
  /**
   * Renders told to stop: an attempt that fails for a reason the renderer did not report (it
   * stopped answering, or answered garbage) stops its render, which may still be running there.
   */
  deletes?: number;
}

const scenarios: Scenario[] = [
  {
    name: 'a submit answered only after the HTTP timeout, every time',
    renderer: 'manim',
    faults: [{ method: 'POST', fault: { kind: 'slow', delayMs: 1500 } }],
    expected: {
      status: 'failed',
      attempts: 3,
      error: /^RendererUnavailable: manim did not answer POST \/render within 300 ms$/,
    },
    posts: 3,
  },
  {
    name: 'status polls answered after the HTTP timeout for a while',
    renderer: 'revideo',
    faults: [{ method: 'GET', fault: { kind: 'slow', delayMs: 1000 }, times: 2 }],
    expected: { status: 'completed', attempts: 1 },
    posts: 1,
  },
  {
    name: 'connection resets on every submit',
    renderer: 'revideo',
    faults: [{ method: 'POST', fault: { kind: 'reset' } }],
    expected: {
      status: 'failed',
      attempts: 3,
      error: /^RendererUnavailable: revideo is unreachable \(POST \/render\): \S+/,
    },
    posts: 3,
  },
  {
    name: 'connection resets on the first two submits',
    renderer: 'orchestrator',
    faults: [{ method: 'POST', fault: { kind: 'reset' }, times: 2 }],
    expected: { status: 'completed', attempts: 3 },
    posts: 3,
  },
  {
    name: 'a short 503 storm on status polls',
    renderer: 'manim',
    faults: [{ method: 'GET', fault: { kind: 'status', code: 503 }, times: 5 }],
    expected: { status: 'completed', attempts: 1 },
    posts: 1,
  },
  {
    name: 'a 502 storm on status polls that outlasts every attempt',
    renderer: 'orchestrator',
    faults: [{ method: 'GET', fault: { kind: 'status', code: 502, body: '<html>Bad Gateway</html>' } }],
    expected: {
      status: 'failed',
      attempts: 3,
      error:
        /^RendererUnavailable: orchestrator failed \(502, GET \/render\/[^)]+\): <html>Bad Gateway<\/html>$/,
    },
    // Each attempt submits a fresh render and stops the one it gave up on.
    posts: 3,
    deletes: 3,
  },
  {
    name: 'a 500 storm on submits that ends before the last attempt',
    renderer: 'manim',
    simulate: { failTimes: 2 },
    expected: { status: 'completed', attempts: 3 },
    posts: 3,
  },
  {
    name: 'garbage JSON from the proxy on every status poll',
    renderer: 'revideo',
    faults: [{ method: 'GET', fault: { kind: 'garbage' } }],
    expected: {
      status: 'failed',
      attempts: 3,
      error:
        /^RendererBadResponse: revideo sent malformed JSON \(GET \/render\/[^)]+\): "\{\\"status\\": \\"rend"$/,
    },
    posts: 3,
    deletes: 3,
  },
  {
    name: 'truncated JSON from the renderer itself',
    renderer: 'manim',
    simulate: { outcome: 'malformed' },
    expected: { status: 'failed', attempts: 3, error: /^RendererBadResponse: manim sent malformed JSON/ },
    posts: 3,
    deletes: 3,
  },
  {
    name: 'a completed render whose videoUrl is not a URL',
    renderer: 'orchestrator',
    simulate: { outcome: 'bad-video-url' },
    expected: {
      status: 'failed',
      attempts: 3,
      error:
        /^RendererBadResponse: orchestrator sent a response that breaks the render contract \(GET \/render\/[^)]+\): videoUrl: a completed render needs an http\(s\) videoUrl$/,
    },
    posts: 3,
    deletes: 3,
  },
  {
    name: 'a 422 with an HTML body on submit',
    renderer: 'revideo',
    faults: [{ method: 'POST', fault: { kind: 'status', code: 422, body: '<h1>Unprocessable</h1>' } }],
    expected: {
      status: 'failed',
      attempts: 1,
      error:
        /^RendererRejected: revideo rejected the render \(422, POST \/render\): <h1>Unprocessable<\/h1>$/,
    },
    posts: 1,
  },
  {
    name: 'a render that fails and says retrying is pointless',
    renderer: 'manim',
    simulate: { outcome: 'fail-permanently' },
    expected: {
      status: 'failed',
      attempts: 1,
      error:
        /^RenderFailedPermanently: manim reported render \S+ failed permanently: simulated permanent failure/,
    },
    posts: 1,
  },
];

async function runJob(renderer: Renderer, simulate: Record<string, unknown> | undefined) {
  const jobId = crypto.randomUUID();
  return {
    jobId,
    submit: () =>
      submitJob(
        env.client,
        {
          id: jobId,
          jobType: JOB_TYPE[renderer],
          priority: 'high',
          payload: { q: 'fault', ...(simulate ? { simulate } : {}) },
        },
        // The time-skipping server cannot register custom search attributes.
        { searchAttributes: false },
      ),
  };
}

test.each(scenarios)('$name ends $expected.status after $expected.attempts attempt(s)', async (scenario) => {
  const { jobId, submit } = await runJob(scenario.renderer, scenario.simulate);
  for (const rule of scenario.faults ?? []) stack.proxies![scenario.renderer].addRule({ jobId, ...rule });
  const { workflowId } = await submit();
  const handle = env.client.workflow.getHandle(workflowId);
  const outcome = await handle.result().then(
    () => 'completed',
    () => 'failed',
  );
  expect(outcome).toBe(scenario.expected.status);

  const row = await eventually('row to reach its final state', async () => {
    const r = await stack.store.getJob(jobId);
    return r?.status === scenario.expected.status ? r : undefined;
  });
  expect(row.retryCount).toBe(scenario.expected.attempts - 1);
  expect(row.completedAt).not.toBeNull();
  if (scenario.expected.status === 'completed') {
    expect(row.error).toBeNull();
    expect(row.result).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/videos\/.+\.mp4$/);
  } else {
    expect(row.result).toBeNull();
    expect(row.error).toMatch(scenario.expected.error);
  }
  const state = await handle.query(jobStateQuery);
  expect(state.attempt).toBe(scenario.expected.attempts);
  const posts = stack.proxies![scenario.renderer].hits.filter(
    (h) => h.method === 'POST' && h.jobId === jobId,
  );
  expect(posts).toHaveLength(scenario.posts);
  const deletes = stack.proxies![scenario.renderer].hits.filter(
    (h) => h.method === 'DELETE' && h.jobId === jobId,
  );
  expect(deletes).toHaveLength(scenario.deletes ?? 0);
});

test('a renderer that accepts and never finishes is timed out per attempt and fails with the timeout in the row', async () => {
  // The timeout comes from job_queue_config; running activities hold the test server's clock, so
  // it elapses in real time: 0.02 minutes (1.2 s) per attempt here.
  await stack.db!.query('UPDATE job_queue_config SET job_timeout_minutes = 0.02');
  try {
    const { jobId, submit } = await runJob('revideo', { outcome: 'never-finish', durationMs: 200, steps: 4 });
    const { workflowId } = await submit();
    await expect(env.client.workflow.getHandle(workflowId).result()).rejects.toThrow();
    const row = await stack.store.getJob(jobId);
    expect(row).toMatchObject({
      status: 'failed',
      retryCount: 2,
      error: 'render timed out after 0.02 minutes',
    });
    // Each attempt's timeout cancelled its render at the renderer, and the next attempt submitted
    // a fresh one: three renders, each told to stop.
    const calls = (method: string) =>
      stack.sims.revideo.ledger.filter((c) => c.method === method && c.jobId === jobId).map((c) => c.attempt);
    expect(calls('POST')).toEqual([1, 2, 3]);
    expect(calls('DELETE')).toEqual([1, 2, 3]);
    expect(stack.sims.revideo.stats().inFlightJobIds).not.toContain(jobId);
  } finally {
    await stack.db!.query('UPDATE job_queue_config SET job_timeout_minutes = 10');
  }
});
