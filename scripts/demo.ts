/**
 * The main job on the embedded default: pinned Temporal dev server with the Web UI, embedded
 * PGlite (unless DATABASE_URL / SUPABASE_URL is set), renderer simulators, the worker, and a
 * realistic mixed batch with live progress. `npm run demo -- [--jobs N] [--keep] [--summary-json F]`
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cancelJob, submitJob } from '../src/jobs/submit';
import { loadEnv } from '../src/config/env';
import { demoBatch } from '../dev/demo/batch';
import { changeLines, renderTable } from '../dev/demo/progress-view';
import { startDevServer } from '../dev/server/dev-server';
import { DATA_DIR } from '../dev/server/tool-paths';
import { JsonLogger } from '../src/observability/logger';
import { TERMINAL_STATUSES } from '../src/shared/constants';
import { errorMessage } from '../src/shared/error-message';
import type { JobRow } from '../src/shared/job-schema';
import { startStackSimulators } from '../dev/stack';
import { openJobStore } from '../src/store/open-store';
import { installRuntime, startWorkerRuntime } from '../src/worker/runtime';

const { values: flags } = parseArgs({
  options: {
    jobs: { type: 'string', default: '16' },
    keep: { type: 'boolean', default: false },
    'summary-json': { type: 'string' },
  },
});
const jobCount = Number(flags.jobs);
if (!Number.isInteger(jobCount) || jobCount < 1 || jobCount > 500) {
  process.stderr.write(`--jobs: expected a whole number from 1 to 500, got "${flags.jobs}"\n`);
  process.exit(2);
}
const tty = Boolean(process.stdout.isTTY);
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  mkdirSync(DATA_DIR, { recursive: true });
  const logFile = join(DATA_DIR, 'demo-worker.log');
  const logStream = createWriteStream(logFile, { flags: 'w' });
  const logger = new JsonLogger('INFO', (line) => logStream.write(`${line}\n`));
  installRuntime({ LOG_LEVEL: 'INFO', METRICS_PORT: undefined }, logger);

  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
    });
  }

  try {
    say('starting Temporal dev server (pinned binary, Web UI on)...');
    const server = await startDevServer({ dbFile: join(DATA_DIR, 'temporal.db') });
    stops.push(() => server.stop());
    say(`  Temporal ${server.address}   Web UI ${server.uiUrl}`);

    const sims = await startStackSimulators({
      defaultPorts: true,
      defaultDurationMs: 3000,
      progressSteps: 5,
    });
    stops.push(() => sims.close());
    say(
      `  renderer simulators: ${Object.entries(sims.urls)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );

    const env = loadEnv({
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      MANIM_API_URL: sims.urls.manim,
      REVIDEO_API_URL: sims.urls.revideo,
      ORCHESTRATOR_API_URL: sims.urls.orchestrator,
      // A clean embedded database every run, unless a real one is configured.
      PGLITE_DIR: process.env.PGLITE_DIR ?? 'memory://',
      CONFIG_REFRESH_SECONDS: '2',
      INTAKE_INTERVAL_SECONDS: '2',
      WORKER_SHUTDOWN_GRACE_SECONDS: '5',
    });
    const opened = await openJobStore(env);
    stops.push(() => opened.close());
    say(`  database: ${opened.kind} (${opened.location})`);
    // Retries 6 s apart instead of 5 minutes, so the whole batch finishes in about a minute.
    let restoreInterval: (() => Promise<void>) | undefined;
    if (opened.db) {
      const db = opened.db;
      const [previous] = (
        await db.query<{ v: string }>('SELECT retry_interval_minutes::text AS v FROM job_queue_config')
      ).rows;
      await db.query('UPDATE job_queue_config SET retry_interval_minutes = 0.1');
      restoreInterval = async () => {
        await db.query('UPDATE job_queue_config SET retry_interval_minutes = $1::numeric', [
          previous?.v ?? '5',
        ]);
      };
    }

    const runtime = await startWorkerRuntime({ env, logger, opened, listenForSighup: false });
    const running = runtime.run();
    stops.push(async () => {
      runtime.shutdown();
      await running;
    });
    if (restoreInterval && !flags.keep) stops.push(restoreInterval);
    say(`  worker running (logs: ${logFile})\n`);

    const jobs = demoBatch(jobCount);
    const started = Date.now();
    for (const job of jobs) {
      const submission = { id: job.id, jobType: job.jobType, priority: job.priority, payload: job.payload };
      if (job.viaIntake) await runtime.store.insertQueuedJob(submission);
      else await submitJob(runtime.client, submission);
    }
    say(
      `submitted ${jobs.length} jobs (${jobs.filter((j) => j.viaIntake).length} inserted as the frontend does)`,
    );

    const rows = new Map<string, JobRow>();
    const seen = new Map<string, string>();
    const cancelled = new Set<string>();
    const deadline = Date.now() + 4 * 60_000;
    for (;;) {
      for (const job of jobs) {
        const row = await runtime.store.getJob(job.id);
        if (row) rows.set(job.id, row);
        if (job.cancel && row?.status === 'processing' && !cancelled.has(job.id)) {
          cancelled.add(job.id);
          await cancelJob(runtime.client, job.id);
        }
      }
      const state = { jobs, rows, limiter: runtime.limiter.snapshot(), elapsedMs: Date.now() - started };
      if (tty) process.stdout.write(`\x1b[2J\x1b[H${renderTable(state)}\n`);
      else for (const line of changeLines(seen, state)) say(line);
      const done = jobs.every((j) => TERMINAL_STATUSES.includes(rows.get(j.id)?.status ?? 'queued'));
      if (done || interrupted || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, tty ? 500 : 250));
    }

    const uiAnswered = await fetch(server.uiUrl, { signal: AbortSignal.timeout(3000) })
      .then((r) => r.ok)
      .catch(() => false);
    const startOrder = Object.values(sims.simulators)
      .flatMap((sim) => sim.stats().started.map((s) => ({ ...s, renderer: sim.backend })))
      .sort((a, b) => a.at - b.at);
    const results = jobs.map((job) => {
      const row = rows.get(job.id);
      const seconds =
        row?.completedAt && row.createdAt
          ? (Date.parse(row.completedAt) - Date.parse(row.createdAt)) / 1000
          : null;
      return {
        jobId: job.id,
        label: job.label,
        priority: job.priority,
        renderer: row?.renderer ?? null,
        expected: job.expected,
        status: row?.status ?? 'missing',
        attempts: row ? row.retryCount + 1 : 0,
        seconds,
        error: row?.error ?? null,
      };
    });
    const mismatches = results.filter((r) => r.status !== r.expected);
    const counts = results.reduce<Record<string, number>>(
      (acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }),
      {},
    );
    say('');
    say(
      `finished in ${Math.round((Date.now() - started) / 1000)} s: ${Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}`,
    );
    for (const r of results) {
      say(
        `  ${r.jobId.slice(0, 8)} ${r.priority.padEnd(6)} ${(r.renderer ?? '-').padEnd(12)} ${r.status.padEnd(9)}` +
          ` ${String(r.attempts)} attempt(s)${r.seconds !== null ? `, ${r.seconds.toFixed(1)} s` : ''}  ${r.label}` +
          (r.status !== r.expected ? `  EXPECTED ${r.expected}` : ''),
      );
    }
    say(`order of render starts: ${startOrder.map((s) => `${s.jobId.slice(0, 8)}(${s.attempt})`).join(' ')}`);
    say(`Web UI: ${server.uiUrl}/namespaces/default/workflows  (answered: ${uiAnswered})`);
    say(`filter there with e.g.  RenderStatus = "failed" AND Renderer = "manim"`);
    if (flags['summary-json']) {
      writeFileSync(
        flags['summary-json'],
        JSON.stringify(
          {
            results,
            counts,
            startOrder,
            webUi: { url: server.uiUrl, answered: uiAnswered },
            serverPid: server.process.pid,
            interrupted,
          },
          null,
          2,
        ),
      );
    }
    if (flags.keep && !interrupted) {
      say(`\n--keep: everything stays up. Temporal ${server.address}; Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (interrupted) {
            clearInterval(check);
            resolve();
          }
        }, 200);
      });
    }
    return mismatches.length || interrupted ? 1 : 0;
  } finally {
    await stopAll();
    logStream.end();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo failed: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
