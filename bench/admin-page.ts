/**
 * How fast the admin page's first screen is with 10,000 jobs waiting.
 *
 * Set-up: the pinned dev server; a stand-in admission workflow answering the snapshot query with
 * 10 renders in flight and 10,000 waiting jobs (bench/admin/snapshot-stub-workflow.ts: the real
 * query path, client -> server -> worker -> back, about 500 KB); a fresh database (PostgreSQL
 * when it answers, else PGlite) with the 10,010 rows and 10 failures; the admin server as
 * `render-queue admin` runs it. Measured, each several times, median and worst:
 *   snapshot query   the one gRPC query alone;
 *   GET / (server)   the whole first-screen response over HTTP, page 1 and page 200, each
 *                    loading the queue afresh; and page 1 sharing a load made within the second;
 *   browser          Debian's Chromium (when installed): navigation to the end of the response
 *                    and to the load event (page parsed, stylesheet and script loaded), page 1,
 *                    logged in, nobody else watching.
 *
 *   npx tsx bench/admin-page.ts        prints the figures, writes bench/results/admin-page.json
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { startAdminServer } from '../src/admin/server';
import { JsonLogger } from '../src/observability/logger';
import { NO_DURATIONS } from '../src/shared/admission-estimate';
import { admissionSnapshotQuery } from '../src/shared/admission-messages';
import type { AdmissionSnapshot } from '../src/shared/admission-messages';
import { AdmissionQueue } from '../src/shared/admission-queue';
import {
  ADMISSION_WORKFLOW_ID,
  JOB_TYPE_DEFAULT_RENDERER,
  PRIORITIES,
  renderJobWorkflowId,
} from '../src/shared/constants';
import type { JobType } from '../src/shared/constants';
import { CHROMIUM_PATH, launchChromium } from '../dev/browser';
import { devServerEnv } from '../dev/temporal';
import { openBenchDb } from './lib/infra';
import { provenance } from './lib/provenance';

const WAITING = 10_000;
const HOLDERS = 10;
const RUNS = 15;
const TOKEN = `bench-admin-token-${randomUUID()}`;
const TASK_QUEUE = 'bench-admin-snapshot';
const TYPES = Object.keys(JOB_TYPE_DEFAULT_RENDERER) as JobType[];

interface BrowserPerformance {
  getEntriesByType(type: string): Array<{ responseEnd?: number; loadEventEnd?: number }>;
}

interface Timing {
  medianMs: number;
  maxMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `gapMs` 1000 makes every sample load the queue afresh: the server shares one load among the
 * requests of the same second (SharedQueueState), which is the cost an operator who opens the
 * page while nobody else watches it pays.
 */
async function time(runs: number, fn: () => Promise<unknown>, gapMs = 0): Promise<Timing> {
  await fn(); // warm-up: connections, JIT
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    await sleep(gapMs);
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    medianMs: round(samples[Math.floor(samples.length / 2)]!),
    maxMs: round(samples[samples.length - 1]!),
  };
}

/** 10 holders, then 10,000 waiting jobs of every type and priority, accepted a millisecond apart. */
function buildQueue(): {
  snapshot: AdmissionSnapshot;
  jobs: Array<{ id: string; type: JobType; priority: string }>;
} {
  const queue = new AdmissionQueue();
  const jobs: Array<{ id: string; type: JobType; priority: string }> = [];
  const t0 = Date.now() - 60_000;
  for (let i = 0; i < HOLDERS + WAITING; i += 1) {
    const type = TYPES[i % TYPES.length]!;
    const priority = PRIORITIES[i % 3]!;
    const id = randomUUID();
    jobs.push({ id, type, priority });
    const renderer = JOB_TYPE_DEFAULT_RENDERER[type];
    queue.request({ jobId: id, renderer, priority, attempt: 1, acceptedAt: t0 + i }, t0 + i);
    if (i < HOLDERS) queue.dispatch({ total: HOLDERS, manim: 4 }, t0 + i);
  }
  return {
    snapshot: {
      now: Date.now(),
      version: 1,
      caps: { total: HOLDERS, manim: 4, peak: false },
      queue: queue.encode(),
      durations: { ...NO_DURATIONS, manim: 90_000, revideo: 40_000 },
    },
    jobs,
  };
}

async function main(): Promise<void> {
  const env = await devServerEnv();
  const db = await openBenchDb();
  const { snapshot, jobs } = buildQueue();
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowsPath: require.resolve('./admin/snapshot-stub-workflow'),
  });
  const running = worker.run();
  const admin = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    client: env.client,
    store: db.store,
    namespace: env.namespace ?? 'default',
    temporalUiUrl: 'http://localhost:8233',
    logger: new JsonLogger('WARN'),
  });
  try {
    await db.db.query(
      `INSERT INTO jobs (id, job_type, priority, renderer, payload)
       SELECT id, t, p, r, '{"question":"bench"}'::jsonb
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS u(id, t, p, r)`,
      [
        jobs.map((j) => j.id),
        jobs.map((j) => j.type),
        jobs.map((j) => j.priority),
        jobs.map((j) => JOB_TYPE_DEFAULT_RENDERER[j.type]),
      ],
    );
    for (let i = 0; i < 10; i += 1) {
      const jobId = randomUUID();
      const now = new Date().toISOString();
      await db.store.applyTransition({
        jobId,
        seq: 1,
        status: 'failed',
        workflowId: renderJobWorkflowId(jobId),
        attempt: 3,
        progress: null,
        error: `RenderFailed: simulated failure ${i}`,
        result: null,
        startedAt: now,
        completedAt: now,
        job: { jobType: 'doubt', priority: 'medium', renderer: 'manim', payload: {} },
      });
    }
    await env.client.workflow.start('admissionSnapshotStub', {
      workflowId: ADMISSION_WORKFLOW_ID,
      taskQueue: TASK_QUEUE,
      args: [snapshot],
    });
    const handle = env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID);
    const headers = { authorization: `Bearer ${TOKEN}` };
    const get = async (pathAndQuery: string) => {
      const res = await fetch(admin.url + pathAndQuery, { headers });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${pathAndQuery}: ${res.status} ${body.slice(0, 200)}`);
      return body;
    };
    const firstPage = await get('');
    const results: Record<string, unknown> = {
      waiting: WAITING,
      inFlight: HOLDERS,
      database: db.kind,
      snapshotBytes: JSON.stringify(snapshot).length,
      firstScreenBytes: firstPage.length,
      rowsOnFirstScreen: (firstPage.match(/<tr data-job=/g) ?? []).length,
      snapshotQuery: await time(RUNS, () => handle.query(admissionSnapshotQuery)),
      serverFirstScreen: await time(RUNS, () => get(''), 1000),
      serverPage200: await time(RUNS, () => get('?page=200'), 1000),
      serverFirstScreenSharedLoad: await time(RUNS, () => get('')),
    };
    if (existsSync(CHROMIUM_PATH)) {
      const browser = await launchChromium();
      try {
        const page = await browser.context.newPage();
        await page.goto(admin.url);
        await page.fill('input[name=token]', TOKEN);
        await Promise.all([page.waitForURL(admin.url), page.click('button[type=submit]')]);
        // First contentful paint is left out: headless Chromium reports it for a few navigations
        // only, and late (frames are produced lazily without a screen).
        const marks: Record<'responseEnd' | 'loadEvent', number[]> = { responseEnd: [], loadEvent: [] };
        for (let i = 0; i < RUNS; i += 1) {
          await page.goto('about:blank');
          await sleep(1000);
          await page.goto(admin.url, { waitUntil: 'load' });
          // Runs in the page; typed loosely because this project compiles without the DOM library.
          const t = await page.evaluate(() => {
            const perf = (globalThis as unknown as { performance: BrowserPerformance }).performance;
            const nav = perf.getEntriesByType('navigation')[0];
            return { responseEnd: nav?.responseEnd, load: nav?.loadEventEnd };
          });
          marks.responseEnd.push(t.responseEnd ?? Number.NaN);
          marks.loadEvent.push(t.load ?? Number.NaN);
        }
        // Milliseconds from the start of navigation, as the page's own Performance API reports them.
        results.browser = Object.fromEntries(
          Object.entries(marks).map(([name, values]) => {
            const seen = values.filter(Number.isFinite).sort((a, b) => a - b);
            return [
              name,
              {
                medianMs: Math.round(seen[Math.floor(seen.length / 2)] ?? Number.NaN),
                maxMs: Math.round(seen[seen.length - 1] ?? Number.NaN),
                samples: seen.length,
              },
            ];
          }),
        );
      } finally {
        await browser.close();
      }
    } else {
      results.browser = `skipped: no Chromium at ${CHROMIUM_PATH}`;
    }
    console.log(JSON.stringify(results, null, 2));
    const out = path.join(__dirname, 'results', 'admin-page.json');
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(
      out,
      `${JSON.stringify({ ...results, at: new Date().toISOString(), provenance: provenance() }, null, 2)}\n`,
    );
  } finally {
    await admin.close();
    await env.client.workflow
      .getHandle(ADMISSION_WORKFLOW_ID)
      .terminate('bench done')
      .catch(() => undefined);
    worker.shutdown();
    await running;
    await db.close();
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
