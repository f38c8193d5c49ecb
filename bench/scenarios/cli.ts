/**
 * The operator's CLI: wall time of `render-queue --help` and of one `submit` (a new process each
 * time, as a script calls it), and the rate of `submit --file` (many jobs, one process), for the
 * bundled CLI the package installs (dist/cli.js) against the unbundled sources run in this same
 * bench (`npm run cli`: tsx). The peers have no CLI: their jobs are rows the frontend inserts.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderJobWorkflowId } from '../../src/shared/constants';
import type { Column, ScenarioReport, SystemResult } from '../lib/report';
import { computeRatios, skipped } from '../lib/report';
import { percentile, round } from '../lib/stats';
import { ROOT } from '../lib/proc';
import type { SystemId } from '../systems/types';
import type { BenchContext } from './context';

const run = promisify(execFile);

const COLUMNS: Column[] = [
  { key: 'helpMs', label: '--help ms (p50)' },
  { key: 'submitMs', label: 'submit ms (p50)' },
  { key: 'batchJobsPerSecond', label: 'submit --file jobs/s' },
  { key: 'unbundledHelpMs', label: 'unbundled --help ms' },
  { key: 'unbundledSubmitMs', label: 'unbundled submit ms' },
];

type Cli = string[];
const BUNDLED: Cli = [process.execPath, path.join(ROOT, 'dist', 'cli.js')];
const UNBUNDLED: Cli = [process.execPath, '--import', 'tsx', path.join(ROOT, 'src', 'cli.ts')];

async function timed(cli: Cli, args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  await run(cli[0]!, [...cli.slice(1), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return performance.now() - started;
}

export async function cliScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const { buildCli } = (await import(path.join(ROOT, 'scripts', 'build-cli.mjs'))) as {
    buildCli: () => Promise<boolean>;
  };
  await buildCli();
  // An empty code cache: each command's first run here compiles, as after an install or upgrade.
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'rq-bench-cli-cache-'));
  const env = { TEMPORAL_ADDRESS: ctx.env.address, LOG_LEVEL: 'WARN', RENDER_QUEUE_CLI_CACHE_DIR: cacheDir };
  const runs = ctx.size === 'smoke' ? 3 : 10;
  const batch = ctx.size === 'smoke' ? 10 : ctx.size === 'quick' ? 50 : 200;
  const started: string[] = [];
  const submit = async (cli: Cli) => {
    const id = randomUUID();
    started.push(id);
    return timed(cli, ['submit', '--type', 'doubt', '--id', id, '--payload', '{"q":"bench cli"}'], env);
  };
  const median = (xs: number[]) => round(percentile(xs, 50), 0);
  try {
    const samples = {
      help: [] as number[],
      submit: [] as number[],
      uHelp: [] as number[],
      uSubmit: [] as number[],
    };
    for (let i = 0; i < runs; i += 1) {
      samples.help.push(await timed(BUNDLED, ['--help'], env));
      samples.submit.push(await submit(BUNDLED));
      samples.uHelp.push(await timed(UNBUNDLED, ['--help'], env));
      samples.uSubmit.push(await submit(UNBUNDLED));
    }
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'rq-bench-cli-')), 'jobs.ndjson');
    const ids = Array.from({ length: batch }, () => randomUUID());
    started.push(...ids);
    writeFileSync(
      file,
      ids.map((id, i) => JSON.stringify({ id, jobType: 'doubt', payload: { q: `batch ${i}` } })).join('\n'),
    );
    const batchMs = await timed(BUNDLED, ['submit', '--file', file], env);
    const figures = {
      helpMs: median(samples.help),
      submitMs: median(samples.submit),
      batchJobsPerSecond: round((batch * 1000) / batchMs, 1),
      unbundledHelpMs: median(samples.uHelp),
      unbundledSubmitMs: median(samples.uSubmit),
    };
    const note = `dist/cli.js vs node --import tsx src/cli.ts, ${runs} runs each, one job per submit, the bundle's code cache empty before the first; --file with ${batch} jobs`;
    const results = {
      'temporal-1s': { method: 'measured', figures, note },
      'temporal-100ms': {
        method: 'measured',
        figures,
        note: 'same run as temporal-1s (the CLI has no poll interval)',
      },
      'old-poller-60s': skipped('no CLI: jobs are rows the frontend inserts'),
      'old-poller-1s': skipped('no CLI: jobs are rows the frontend inserts'),
      bullmq: skipped('no CLI: jobs are added by the application'),
    } satisfies Record<SystemId, SystemResult>;
    return {
      id: 'cli',
      title: 'CLI (a new process per command, as scripts call it; no worker running)',
      params: { runs, batch },
      columns: COLUMNS,
      results,
      ratios: computeRatios(COLUMNS, results),
    };
  } finally {
    // Nothing renders them: no worker of this scenario runs, and later scenarios must not see them.
    await Promise.all(
      started.map((id) =>
        ctx.env.client.workflow
          .getHandle(renderJobWorkflowId(id))
          .terminate('bench: cli scenario')
          .catch(() => undefined),
      ),
    );
  }
}
