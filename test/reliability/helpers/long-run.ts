/**
 * Shared harness of the long reliability runs: renderer simulators in the test process (their
 * ledgers survive any worker crash), a fresh PostgreSQL database with the status audit, a plan of
 * jobs with known right outcomes, and the checks every run ends with.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { submitJob } from '../../../src/jobs/submit';
import { RENDERERS } from '../../../src/shared/constants';
import type { JobType, Priority, Renderer } from '../../../src/shared/constants';
import type { RendererSimulator } from '../../../dev/simulator/renderer-simulator';
import { openJobStore } from '../../../src/store/open-store';
import type { OpenedJobStore } from '../../../src/store/open-store';
import { createTestDatabase } from '../../../dev/db';
import { startStackSimulators } from '../../../dev/stack';
import { checkAudit, installStatusAudit } from './audit';
import type { AuditReport } from './audit';
import { prebuiltBundle } from './worker-process';

/** A small seeded PRNG, so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PlannedJob {
  id: string;
  jobType: JobType;
  renderer: Renderer;
  priority: Priority;
  simulate: Record<string, unknown>;
  expected: { status: 'completed' | 'failed'; error?: RegExp };
}

const TYPE_OF: Record<Renderer, JobType> = {
  manim: 'doubt',
  revideo: 'concept_explainer',
  orchestrator: 'solution_walkthrough',
};

/** Mostly renders that succeed (1-3 s), some that fail for good, some refused, some that need a retry. */
export function planJobs(
  count: number,
  random: () => number,
  durationMs: [number, number] = [1000, 3000],
): PlannedJob[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const renderer = pick(RENDERERS);
    const duration = Math.round(durationMs[0] + random() * (durationMs[1] - durationMs[0]));
    const base = { durationMs: duration, steps: 4 };
    const roll = i % 20;
    const [simulate, expected]: [Record<string, unknown>, PlannedJob['expected']] =
      roll === 0 || roll === 10
        ? [
            { ...base, outcome: 'fail-permanently' },
            { status: 'failed', error: /^RenderFailedPermanently: / },
          ]
        : roll === 5
          ? [{ outcome: 'reject' }, { status: 'failed', error: /^RendererRejected: / }]
          : roll === 15
            ? [{ ...base, failTimes: 1 }, { status: 'completed' }]
            : [base, { status: 'completed' }];
    return {
      id: randomUUID(),
      jobType: TYPE_OF[renderer],
      renderer,
      priority: pick(['high', 'medium', 'low'] as const),
      simulate,
      expected,
    };
  });
}

export interface LongRunHarness {
  sims: Record<Renderer, RendererSimulator>;
  db: OpenedJobStore;
  databaseUrl: string;
  /** Environment for a worker process of this run (add TEMPORAL_ADDRESS). */
  workerEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function startHarness(config: Record<string, number | string> = {}): Promise<LongRunHarness> {
  const database = await createTestDatabase();
  const db = await openJobStore({ DATABASE_URL: database.url });
  await installStatusAudit(db.db);
  for (const [column, value] of Object.entries(config)) {
    await db.db.query(`UPDATE job_queue_config SET ${column} = $1`, [value]);
  }
  const simulators = await startStackSimulators();
  const sims = simulators.simulators;
  return {
    sims,
    db,
    databaseUrl: database.url,
    workerEnv: {
      DATABASE_URL: database.url,
      MANIM_API_URL: sims.manim.url,
      REVIDEO_API_URL: sims.revideo.url,
      ORCHESTRATOR_API_URL: sims.orchestrator.url,
      INTAKE_INTERVAL_SECONDS: '0',
      CONFIG_REFRESH_SECONDS: '5',
      WORKER_SHUTDOWN_GRACE_SECONDS: '2',
      // INFO: the tests wait for the worker's "worker running" line.
      LOG_LEVEL: 'INFO',
      WORKFLOW_BUNDLE_PATH: await prebuiltBundle(),
    },
    async close() {
      await simulators.close();
      await db.close();
      await database.drop();
    },
  };
}

export async function submitPlan(client: Client, jobs: PlannedJob[], parallel = 20): Promise<void> {
  for (let i = 0; i < jobs.length; i += parallel) {
    await Promise.all(
      jobs.slice(i, i + parallel).map((job) =>
        submitJob(client, {
          id: job.id,
          jobType: job.jobType,
          priority: job.priority,
          payload: { question: `reliability ${job.id}`, simulate: job.simulate },
        }),
      ),
    );
  }
}

export interface RunVerdict {
  jobs: number;
  /** Jobs whose row is missing or not in its right final state. */
  wrong: string[];
  /** Jobs whose renderer completed more renders, or saw more submits, than the attempts made. */
  unexplainedRenders: string[];
  /** Jobs rendered more than once (each explained by a retry). */
  reRendered: number;
  audit: AuditReport;
}

/** The checks every long run ends with: right final states, renders explained by attempts, no regressions. */
export async function verify(harness: LongRunHarness, jobs: PlannedJob[]): Promise<RunVerdict> {
  const wrong: string[] = [];
  const unexplained: string[] = [];
  let reRendered = 0;
  for (const job of jobs) {
    const row = await harness.db.store.getJob(job.id);
    const ok =
      row !== null &&
      row.status === job.expected.status &&
      (job.expected.status === 'completed'
        ? /^https?:\/\//.test(row.result ?? '')
        : job.expected.error!.test(row.error ?? ''));
    if (!ok)
      wrong.push(
        `${job.id}: expected ${job.expected.status}, got ${row?.status ?? 'no row'} (${row?.error ?? ''})`,
      );
    const sim = harness.sims[job.renderer];
    const attempts = (row?.retryCount ?? 0) + 1;
    const posts = sim.ledger.filter(
      (c) => c.method === 'POST' && c.jobId === job.id && c.httpStatus === 202,
    ).length;
    const completed = sim.stats().completed.filter((c) => c.jobId === job.id).length;
    if (posts > 1) reRendered++;
    if (completed > attempts || posts > attempts) {
      unexplained.push(
        `${job.id}: ${posts} accepted submits, ${completed} completed renders, ${attempts} attempts`,
      );
    }
  }
  return {
    jobs: jobs.length,
    wrong,
    unexplainedRenders: unexplained,
    reRendered,
    audit: await checkAudit(harness.db.db),
  };
}
