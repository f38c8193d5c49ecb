/**
 * Database outages during renders, on the dev server (real retry timing). The read model goes
 * away (the PostgREST-speaking server answering 503, resetting connections, then hanging; or the
 * PostgreSQL connection cut at the TCP level) while jobs render: the renders finish regardless,
 * and after recovery every row converges to its final state within a bounded time, with no
 * status ever moving backwards.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import type { JobType } from '../../src/shared/constants';
import { RENDERERS } from '../../src/shared/constants';
import { openJobStore } from '../../src/store/open-store';
import { createTestDatabase, postgresAvailable } from '../../dev/db';
import { openSupabaseTestTarget } from '../helpers/postgrest-test-server';
import { devServerEnv, eventually } from '../../dev/temporal';
import { checkAudit, installStatusAudit } from './helpers/audit';
import { startReliabilityStack } from './helpers/reliability-stack';
import type { ReliabilityStack } from './helpers/reliability-stack';
import { startTcpProxy } from './helpers/tcp-proxy';

/** The sync retry's longest interval (30 s) plus one request timeout and scheduling slack. */
const CONVERGENCE_BOUND_MS = 40_000;
const JOBS: JobType[] = ['doubt', 'concept_explainer', 'solution_walkthrough'];

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await devServerEnv();
});

afterAll(async () => {
  await env?.teardown();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs 9 jobs, three per renderer, takes the store down once every render has started, brings
 * it back once every render has finished, and measures how long the rows take to converge.
 */
async function renderThroughOutage(
  stack: ReliabilityStack,
  outage: { down(step: number): void; up(): void },
): Promise<{ convergedMs: number; finishedDuringOutage: number }> {
  const submitted = [];
  for (let i = 0; i < 9; i++) {
    submitted.push(
      await submitJob(env.client, {
        jobType: JOBS[i % 3]!,
        priority: 'medium',
        payload: { q: `outage ${i}`, simulate: { durationMs: 2500 + 100 * i, steps: 5 } },
      }),
    );
  }
  const ids = submitted.map((s) => s.jobId);
  const started = () => RENDERERS.reduce((n, r) => n + stack.sims[r].stats().started.length, 0);
  const finished = () => RENDERERS.reduce((n, r) => n + stack.sims[r].stats().completed.length, 0);
  await eventually('every render to start', () => started() === ids.length, 30_000, 50);

  // Down in steps (the caller decides what each one means) until every render has finished.
  let step = 0;
  outage.down(step);
  const finishedAtStart = finished();
  while (finished() < ids.length) {
    await sleep(1000);
    outage.down(++step);
  }
  const finishedDuringOutage = finished() - finishedAtStart;
  // Renders are done, the database is still down: nothing is final in the read model yet.
  outage.up();
  const upAt = Date.now();
  await eventually(
    'every row to converge to completed',
    async () => {
      const rows = await Promise.all(ids.map((id) => stack.store.getJob(id)));
      return rows.every((r) => r?.status === 'completed' && r.result !== null);
    },
    CONVERGENCE_BOUND_MS,
    100,
  );
  const convergedMs = Date.now() - upAt;
  for (const { workflowId } of submitted) await env.client.workflow.getHandle(workflowId).result();
  // One render per job: the outage caused no re-render.
  for (const id of ids) {
    const posts = RENDERERS.flatMap((r) => stack.sims[r].ledger).filter(
      (c) => c.method === 'POST' && c.jobId === id,
    );
    expect(posts).toHaveLength(1);
  }
  return { convergedMs, finishedDuringOutage };
}

(postgresAvailable() ? test : test.skip)(
  'Supabase (PostgREST) down with 503s, resets and hangs: renders finish, rows converge after recovery, none regress',
  async () => {
    const target = await openSupabaseTestTarget({ timeoutMs: 2_000 });
    await installStatusAudit(target.db);
    const stack = await startReliabilityStack(env, {
      opened: { store: target.store, db: target.db, close: () => target.close() },
      simulator: { progressSteps: 5 },
    });
    try {
      const modes = ['status', 'reset', 'hang'] as const;
      const result = await renderThroughOutage(stack, {
        down: (step) => target.server.setDown(true, modes[Math.min(step, modes.length - 1)]),
        up: () => target.server.setDown(false),
      });
      expect(result.finishedDuringOutage).toBeGreaterThan(0);
      expect(result.convergedMs).toBeLessThan(CONVERGENCE_BOUND_MS);
      const audit = await checkAudit(target.db);
      expect(audit.regressions).toEqual([]);
      expect(audit.jobs).toBe(9);
      process.stderr.write(
        `${JSON.stringify({ msg: 'supabase outage', ...result, transitions: audit.transitions })}\n`,
      );
    } finally {
      await stack.close();
    }
  },
  120_000,
);

(postgresAvailable() ? test : test.skip)(
  'PostgreSQL cut at the TCP level: renders finish, rows converge after recovery, none regress',
  async () => {
    const database = await createTestDatabase();
    const proxy = await startTcpProxy({
      host: '127.0.0.1',
      port: Number(new URL(database.url).port || 5432),
    });
    const viaProxy = new URL(database.url);
    viaProxy.port = String(proxy.port);
    const opened = await openJobStore({ DATABASE_URL: viaProxy.toString() });
    const admin = await openJobStore({ DATABASE_URL: database.url });
    await installStatusAudit(admin.db);
    const stack = await startReliabilityStack(env, {
      opened: {
        store: opened.store,
        db: opened.db,
        close: async () => {
          await opened.close();
          await admin.close();
          await proxy.close();
          await database.drop();
        },
      },
      simulator: { progressSteps: 5 },
    });
    try {
      const result = await renderThroughOutage(stack, {
        down: () => proxy.setDown(true),
        up: () => proxy.setDown(false),
      });
      expect(result.finishedDuringOutage).toBeGreaterThan(0);
      expect(result.convergedMs).toBeLessThan(CONVERGENCE_BOUND_MS);
      const audit = await checkAudit(admin.db);
      expect(audit.regressions).toEqual([]);
      expect(audit.jobs).toBe(9);
      process.stderr.write(
        `${JSON.stringify({ msg: 'postgres outage', ...result, transitions: audit.transitions })}\n`,
      );
    } finally {
      await stack.close();
    }
  },
  120_000,
);
