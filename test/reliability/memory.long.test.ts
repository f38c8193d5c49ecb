/**
 * LONG (npm run test:long). Worker memory over a 2,000-job run: the worker process's resident set
 * is sampled after a warm-up and at the end; it must stay flat (caches bounded, nothing kept per
 * finished job). Figures go to docs/RELIABILITY.md.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import { RENDERERS } from '../../src/shared/constants';
import type { JobType } from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { startHarness } from './helpers/long-run';
import type { LongRunHarness } from './helpers/long-run';
import { removePrebuiltBundle, spawnWorker } from './helpers/worker-process';
import type { WorkerProcess } from './helpers/worker-process';

const JOBS = 2000;
const WARM_UP = 200;
const TYPES: JobType[] = ['doubt', 'concept_explainer', 'solution_walkthrough'];

let env: TestWorkflowEnvironment;
let harness: LongRunHarness;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  env = await devServerEnv();
  // Higher caps than the defaults so 2,000 short renders fit in minutes.
  harness = await startHarness({
    max_concurrent_renders: 40,
    max_manim_renders: 14,
    peak_worker_multiplier: 1,
  });
}, 120_000);

afterAll(async () => {
  removePrebuiltBundle();
  await worker?.kill('SIGKILL');
  await harness?.close();
  await env?.teardown();
});

async function completedRows(): Promise<number> {
  const { rows } = await harness.db.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE status = 'completed'`,
  );
  return rows[0]!.n;
}

test(
  `worker RSS stays flat over ${JOBS} jobs`,
  async () => {
    worker = spawnWorker({ ...harness.workerEnv, TEMPORAL_ADDRESS: env.address });
    await worker.waitFor(/"msg":"worker running"/, 90_000).catch(async (error: unknown) => {
      await worker?.kill('SIGKILL');
      throw error;
    });
    const startRss = worker.rssKiB();
    const samples: Array<{ completed: number; rssMiB: number }> = [];
    let submitted = 0;
    const startedAt = Date.now();
    const sampler = setInterval(() => {
      void completedRows().then((completed) =>
        samples.push({ completed, rssMiB: Math.round(worker!.rssKiB() / 1024) }),
      );
    }, 5000);
    try {
      // Keep about 100 jobs outstanding, like a busy queue, rather than 2,000 at once.
      while (submitted < JOBS) {
        const done = await completedRows();
        const batch = Math.min(JOBS - submitted, Math.max(0, done + 100 - submitted));
        await Promise.all(
          Array.from({ length: batch }, (_, i) =>
            submitJob(env.client, {
              jobType: TYPES[(submitted + i) % 3]!,
              priority: 'medium',
              payload: { q: `memory ${submitted + i}`, simulate: { durationMs: 200, steps: 1 } },
            }),
          ),
        );
        submitted += batch;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      await eventually(
        'every job to complete',
        async () => (await completedRows()) === JOBS,
        30 * 60_000,
        1000,
      );
    } finally {
      clearInterval(sampler);
    }
    const endRss = worker.rssKiB();
    const warm = samples.find((s) => s.completed >= WARM_UP) ?? samples[0]!;
    const peak = Math.max(...samples.map((s) => s.rssMiB));
    const figures = {
      msg: 'memory run',
      jobs: JOBS,
      durationS: Math.round((Date.now() - startedAt) / 1000),
      startRssMiB: Math.round(startRss / 1024),
      warmRssMiB: warm.rssMiB,
      warmAtCompleted: warm.completed,
      endRssMiB: Math.round(endRss / 1024),
      peakRssMiB: peak,
      renders: RENDERERS.reduce((n, r) => n + harness.sims[r].stats().completed.length, 0),
    };
    process.stderr.write(`${JSON.stringify(figures)}\n`);
    // Flat: after warm-up, 1,800 more jobs may not add more than a quarter (or 64 MiB) to the worker.
    expect(figures.endRssMiB).toBeLessThan(Math.max(warm.rssMiB * 1.25, warm.rssMiB + 64));
  },
  40 * 60_000,
);
