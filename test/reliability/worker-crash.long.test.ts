/**
 * LONG (npm run test:long). The worker process is killed with SIGKILL three times at random
 * moments while 100 jobs (mixed renderers, 1-3 s renders, some failing on purpose) run, and
 * restarted each time. Every job ends in its right state; renders are explained by attempts (a
 * killed attempt resumes its render rather than starting another); no row ever moved backwards.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RENDERERS } from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { planJobs, prng, startHarness, submitPlan, verify } from './helpers/long-run';
import type { LongRunHarness } from './helpers/long-run';
import { removePrebuiltBundle, spawnWorker } from './helpers/worker-process';
import type { WorkerProcess } from './helpers/worker-process';

const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);
const JOBS = 100;
const KILLS = 3;

let env: TestWorkflowEnvironment;
let harness: LongRunHarness;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  env = await devServerEnv();
  // Retries 2 s apart instead of 5 minutes, and room for a job hit by more than one crash.
  harness = await startHarness({ retry_interval_minutes: 2 / 60, max_attempts: 5 });
}, 120_000);

afterAll(async () => {
  removePrebuiltBundle();
  await worker?.kill('SIGKILL');
  await harness?.close();
  await env?.teardown();
});

const startWorker = async () => {
  const started = spawnWorker({ ...harness.workerEnv, TEMPORAL_ADDRESS: env.address });
  try {
    await started.waitFor(/"msg":"worker running"/, 90_000);
  } catch (error) {
    await started.kill('SIGKILL');
    throw error;
  }
  return started;
};

test(
  `${JOBS} jobs survive ${KILLS} kill -9 of the worker (seed ${SEED})`,
  async () => {
    const random = prng(SEED);
    const jobs = planJobs(JOBS, random);
    worker = await startWorker();
    await submitPlan(env.client, jobs);
    const inFlight = () => RENDERERS.reduce((n, r) => n + harness.sims[r].stats().inFlight, 0);
    const kills: Array<{ afterMs: number; rendersInFlight: number }> = [];
    const startedAt = Date.now();
    for (let k = 0; k < KILLS; k++) {
      // A random moment 2-10 s after the worker is up, always with renders in flight.
      await new Promise((resolve) => setTimeout(resolve, 2000 + random() * 8000));
      await eventually('renders in flight to kill', () => inFlight() > 0, 60_000, 50);
      kills.push({ afterMs: Date.now() - startedAt, rendersInFlight: inFlight() });
      const exit = await worker.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      worker = await startWorker();
    }
    for (const job of jobs) {
      await env.client.workflow
        .getHandle(`render-job-${job.id}`)
        .result()
        .catch(() => undefined);
    }
    const verdict = await verify(harness, jobs);
    process.stderr.write(
      `${JSON.stringify({ msg: 'worker crash run', seed: SEED, kills, durationMs: Date.now() - startedAt, ...verdict, audit: { ...verdict.audit, regressions: verdict.audit.regressions.length } })}\n`,
    );
    expect(verdict.wrong).toEqual([]);
    expect(verdict.unexplainedRenders).toEqual([]);
    expect(verdict.audit.regressions).toEqual([]);
    expect(verdict.audit.jobs).toBe(JOBS);
    expect(kills.every((k) => k.rendersInFlight > 0)).toBe(true);
  },
  15 * 60_000,
);
