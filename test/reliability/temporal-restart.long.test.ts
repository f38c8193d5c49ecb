/**
 * LONG (npm run test:long). The Temporal dev server, persisted to a file, is stopped in the middle
 * of a run and started again on the same address: the worker process and the client reconnect on
 * their own, and every job completes, none regressing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../../dev/server/dev-server';
import type { DevServer } from '../../dev/server/dev-server';
import { RENDERERS } from '../../src/shared/constants';
import { retryStopsAtClose } from '../../src/util/retry-stops-at-close';
import { eventually } from '../../dev/temporal';
import { planJobs, prng, startHarness, submitPlan, verify } from './helpers/long-run';
import type { LongRunHarness } from './helpers/long-run';
import { removePrebuiltBundle, spawnWorker } from './helpers/worker-process';
import type { WorkerProcess } from './helpers/worker-process';

const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);
const JOBS = 40;

let dir: string;
let server: DevServer | undefined;
let harness: LongRunHarness;
let worker: WorkerProcess | undefined;
let connection: Connection | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rq-temporal-restart-'));
  harness = await startHarness({ retry_interval_minutes: 2 / 60 });
}, 120_000);

afterAll(async () => {
  removePrebuiltBundle();
  await connection?.close();
  await worker?.kill('SIGKILL');
  await server?.stop();
  await harness?.close();
  rmSync(dir, { recursive: true, force: true });
});

test(
  `${JOBS} jobs complete across a restart of the Temporal server (seed ${SEED})`,
  async () => {
    const dbFile = join(dir, 'temporal.db');
    server = await startDevServer({ dbFile, port: 0 });
    const address = server.address;
    const port = Number(address.split(':')[1]);
    worker = spawnWorker({ ...harness.workerEnv, TEMPORAL_ADDRESS: address });
    await worker.waitFor(/"msg":"worker running"/, 90_000).catch(async (error: unknown) => {
      await worker?.kill('SIGKILL');
      throw error;
    });
    connection = await Connection.connect({ address, plugins: [retryStopsAtClose()] });
    const client = new Client({ connection });
    // Only jobs that should succeed: the point is that none is lost.
    const jobs = planJobs(JOBS * 2, prng(SEED), [2000, 3000])
      .filter((j) => j.expected.status === 'completed')
      .slice(0, JOBS);
    await submitPlan(client, jobs);
    const started = () => RENDERERS.reduce((n, r) => n + harness.sims[r].stats().started.length, 0);
    await eventually('renders to be under way', () => started() >= 5, 60_000, 50);

    const unfinishedAtStop =
      JOBS -
      (
        await harness.db.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE status = 'completed'`,
        )
      ).rows[0]!.n;
    const stoppedAt = Date.now();
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    server = await startDevServer({ dbFile, port, uiPort: port + 1000 });
    expect(server.address).toBe(address);
    const downMs = Date.now() - stoppedAt;

    for (const job of jobs) await client.workflow.getHandle(`render-job-${job.id}`).result();
    const verdict = await verify(harness, jobs);
    process.stderr.write(
      `${JSON.stringify({ msg: 'temporal restart run', seed: SEED, downMs, unfinishedAtStop, ...verdict, audit: { ...verdict.audit, regressions: verdict.audit.regressions.length } })}\n`,
    );
    expect(unfinishedAtStop).toBeGreaterThan(0);
    expect(verdict.wrong).toEqual([]);
    expect(verdict.unexplainedRenders).toEqual([]);
    expect(verdict.audit.regressions).toEqual([]);
    // The worker process lived through it: no restart of ours was needed.
    expect(worker.output()).not.toMatch(/"msg":"worker failed"/);
  },
  15 * 60_000,
);
