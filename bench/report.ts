/**
 * `npm run bench:report [-- --check]`
 *
 * Rewrites the generated blocks of docs/BENCHMARKS.md and docs/RELIABILITY.md from the committed
 * results files (bench/results/*.json) and draws docs/charts/*.svg. A block is
 *
 *   <!-- generated:NAME from bench/results/FILE[, bench/results/FILE2] -->
 *   ...replaced on every run...
 *   <!-- /generated -->
 *
 * NAME is one of BLOCKS below (each declares the files it reads; the marker must name them), or
 * `scenario:ID`, which prints any scenario report of the named file as a table. Figures live only
 * in these blocks; test/bench/report.test.ts fails on a figure in the prose around them and when
 * the docs or charts differ from what this script writes. `--check` writes nothing and exits 1
 * naming every file that would change.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { charts, isDrawn, renderSvg } from './lib/charts';
import { readResultsDir } from './lib/results-files';
import type { ResultsFile, ScenarioReport } from './lib/results-files';
import {
  cite,
  fmtDate,
  machineText,
  num,
  pct,
  provenanceText,
  scenarioTable,
  systemLabel,
  table,
  versionsText,
} from './lib/report-text';

const ROOT = path.resolve(__dirname, '..');
export const DOCS = ['docs/BENCHMARKS.md', 'docs/RELIABILITY.md'];
export const CHARTS_DIR = 'docs/charts';
export const BLOCK_RE = /<!-- generated:(\S+) from ([^>]*?) -->\n[\s\S]*?<!-- \/generated -->/g;

type Files = Record<string, ResultsFile>;

function need(files: Files, name: string): ResultsFile {
  const file = files[name];
  if (!file) throw new Error(`bench/results/${name} is missing`);
  return file;
}

function scenario(file: ResultsFile, id: string): ScenarioReport {
  const s = file.scenarios[id];
  if (!s) throw new Error(`bench/results/${file.name} has no scenario "${id}"`);
  return s;
}

/** figure `key` of `system` in a scenario, formatted. */
function fig(s: ScenarioReport, system: string, key: string, digits?: number): string {
  return num(s.results[system as keyof typeof s.results]?.figures[key], digits);
}

function raw(s: ScenarioReport, system: string, key: string): number | null {
  const v = s.results[system as keyof typeof s.results]?.figures[key];
  return typeof v === 'number' ? v : null;
}

function method(s: ScenarioReport, system: string): string {
  return s.results[system as keyof typeof s.results]?.method ?? 'skipped';
}

interface Block {
  files: string[];
  render(files: Files): string;
}

/** Issue 12's worker budgets against the floor of the fewest workflow tasks a job can take under admission. */
function floorAgainstBudgets(fewest: Record<string, number>, tasks: number): string {
  const cpu = fewest.workerCpuSecondsPer1000!;
  const rate = fewest.jobsPerSecond!;
  const within = cpu <= 15 && rate >= 40;
  return `  Against issue 12's budgets (worker CPU ≤ 15 s per 1,000 jobs, ≥ 40 jobs/s with the sync on), the floor of ${tasks} workflow tasks is ${cpu <= 15 ? 'inside' : 'over'} the CPU budget (${num(cpu)} s) and ${rate >= 40 ? 'inside' : 'under'} the throughput budget (${num(rate, 1)} jobs/s)${within ? '' : `: no job of ${tasks} workflow tasks or more meets both on this machine, whatever it does in them`}.`;
}

const BLOCKS: Record<string, Block> = {
  sources: {
    files: ['*.json'],
    render(files) {
      const rows = Object.values(files).map((f) => [
        `[${f.name}](../bench/results/${f.name})`,
        fmtDate(f.date),
        f.size ?? '–',
        Object.keys(f.scenarios).join(', ') || '(own format)',
        machineText(f),
        provenanceText(f),
      ]);
      return table(['results file', 'written', 'size', 'scenarios', 'machine', 'provenance'], rows);
    },
  },

  'latency-insert': {
    files: ['latest.json'],
    render(files) {
      const f = need(files, 'latest.json');
      const s = scenario(f, 'latency');
      const p = s.params;
      const rows = Object.keys(s.results).map((id) => [
        systemLabel(id) + (id === 'old-poller-60s' ? ` (${fig(s, id, 'jobs')} jobs)` : ''),
        fig(s, id, 'p50Ms'),
        fig(s, id, 'p95Ms'),
        fig(s, id, 'p99Ms'),
        raw(s, id, 'apiP50Ms') !== null ? `${fig(s, id, 'apiP50Ms')} / ${fig(s, id, 'apiP99Ms')}` : '',
        method(s, id),
      ]);
      const p99 = raw(s, 'temporal-1s', 'p99Ms');
      return [
        `From ${cite(f)}: ${num(p.jobs)} jobs per system spaced ${num(p.spacingMs)} ms, ${num(p.renderMs)} ms renders, free capacity.`,
        '',
        table(['system', 'p50 ms', 'p95 ms', 'p99 ms', 'API p50 / p99 ms', 'method'], rows),
        '',
        `Issue 11's bound (insert → POST p99 ≤ 500 ms with free capacity) ${p99 !== null && p99 <= 500 ? 'holds' : 'does not hold'} at the production setting (${fig(s, 'temporal-1s', 'p99Ms')} ms); the 100 ms variant: ${fig(s, 'temporal-100ms', 'p99Ms')} ms. From \`submitJob\` (the API column) p99 is ${fig(s, 'temporal-1s', 'apiP99Ms')} ms at 1 s and ${fig(s, 'temporal-100ms', 'apiP99Ms')} ms at 100 ms.`,
      ].join('\n');
    },
  },

  footprint: {
    files: ['latest.json'],
    render(files) {
      const f = need(files, 'latest.json');
      const s = scenario(f, 'resources');
      const n = num(s.params.jobs);
      const max = num(s.params.maxJobs);
      const shown = ['temporal-1s', 'old-poller-1s', 'bullmq'];
      const rows = shown.map((id) => [
        id === 'temporal-1s' ? 'this project' : systemLabel(id),
        `${fig(s, id, 'heldRssMb')} MB`,
        raw(s, id, 'heldRssMbAtMax') !== null ? `${fig(s, id, 'heldRssMbAtMax')} MB` : 'not measured',
        `${fig(s, id, 'peakRssMb')} MB`,
        fig(s, id, 'cpuSecondsPer1000') +
          (raw(s, id, 'serverCpuSecondsPer1000') !== null
            ? ` (server: ${fig(s, id, 'serverCpuSecondsPer1000')})`
            : ''),
        fig(s, id, 'drainJobsPerSecond'),
        method(s, id),
      ]);
      const held = raw(s, 'temporal-1s', 'heldRssMb') ?? NaN;
      const atMax = raw(s, 'temporal-1s', 'heldRssMbAtMax') ?? NaN;
      const growth = (atMax / held - 1) * 100;
      const cpu = raw(s, 'temporal-1s', 'cpuSecondsPer1000') ?? NaN;
      const drain = raw(s, 'temporal-1s', 'drainJobsPerSecond') ?? NaN;
      const note = s.results['temporal-1s']?.note ?? '';
      return [
        `From ${cite(f)}, ${num(f.durationS)} s. ${shown.every((id) => method(s, id) === 'measured') ? 'Every figure below is `measured` in that run.' : 'The method column says which figures were measured in that run.'}`,
        '',
        table(
          [
            'worker process, instant renders',
            `RSS, ${n} held`,
            `RSS, ${max} held`,
            `peak RSS, ${n}`,
            `CPU s / ${n} jobs`,
            'drain jobs/s',
            'method',
          ],
          rows,
        ),
        '',
        `This project's worker, as the run noted it: ${note}.`,
        '',
        `Against issue 12's budgets: RSS ≤ 300 MB at ${n} in flight is **${held <= 300 ? 'met' : 'not met'}** (${num(held)} MB); flat within ±10% from ${n} to ${max} is **${Math.abs(growth) <= 10 ? 'met' : 'not met'}** (${growth >= 0 ? '+' : ''}${num(growth, 0)}%); CPU ≤ 15 s per 1,000 jobs is **${cpu <= 15 ? 'met' : 'not met'}** (${num(cpu)}); ≥ 40 jobs/s drained with the sync on is **${drain >= 40 ? 'met' : 'not met'}** at ${n} (${num(drain)}).`,
      ].join('\n');
    },
  },

  'cpu-profile': {
    files: ['worker-profile.json'],
    render(files) {
      const f = need(files, 'worker-profile.json');
      const j = f.json;
      const shares = Object.entries((j.jsShareByWhere as Record<string, number>) ?? {}).map(
        ([where, share]) => `${where} ${pct(share, 1)}`,
      );
      return [
        `From ${cite(f)}, ${num(j.jobs)} jobs: the worker spends ${num(j.workerCpuSecondsPer1000)} CPU s per 1,000 jobs and the Temporal server, on the same two cores, ${num(j.temporalServerCpuSecondsPer1000)}. Share of the worker's profiled JavaScript time by where it ran: ${shares.join('; ')}.`,
      ].join('\n');
    },
  },

  'sdk-costs': {
    files: ['sdk-costs.json'],
    render(files) {
      const f = need(files, 'sdk-costs.json');
      const j = f.json as {
        watchdog: Record<string, number>;
        replay: Record<string, number>;
        replayWithoutPromiseHook: Record<string, number>;
        promiseHookShareOfReplayCpu: number;
        watchdogCpuShareOfActivation: number;
        cache: Record<string, number>;
        floor?: Record<'floor-two-tasks' | 'floor-four-tasks', Record<string, number>> &
          Partial<Record<'floor-three-tasks', Record<string, number>>> & {
            submitters: number;
            cachedWorkflows: number;
          };
      };
      const floor = j.floor;
      return [
        `From ${cite(f)}, each probe in a fresh process on this machine:`,
        '',
        `- A recorded job history replayed (as a worker does when a job's grant or render result finds it evicted from the cache) costs ${num(j.replay.cpuMsPerReplay)} CPU ms, ${num(j.replay.cpuMsPerActivation)} ms per workflow activation, with ${num(j.replay.sandboxCallsPerActivation, 1)} calls into the sandbox per activation.`,
        `- The SDK's stack-trace promise hook (every promise a workflow creates records a source-mapped stack trace, for the \`__stack_trace\` query; the SDK has no setting to turn it off) is ${pct(j.promiseHookShareOfReplayCpu, 0)} of that: the same replays without it cost ${num(j.replayWithoutPromiseHook.cpuMsPerReplay)} CPU ms (measured with the hook removed in that probe only; the worker we ship keeps it).`,
        `- Each call into the sandbox runs under the SDK's execution timeout, for which Node starts a watchdog thread: ${num(j.watchdog.cpuUsPerCallWithTimeout, 1)} µs CPU and ${num(j.watchdog.wallUsPerCallWithTimeout, 1)} µs wall per call against ${num(j.watchdog.cpuUsPerCallWithout, 2)} µs without a timeout, ${pct(j.watchdogCpuShareOfActivation, 0)} of an activation's CPU.`,
        `- A job workflow held in a Worker's cache costs ${num(j.cache.kbPerCachedWorkflow, 0)} KB of RSS (${num(j.cache.cachedWorkflows, 0)} held: +${num(j.cache.rssGrowthMb, 0)} MB), so a cache that kept every job of a 1,000-job backlog (and spared those replays) would not fit the 300 MB budget.`,
        ...(floor
          ? [
              `- The floor, the least a job costs on this stack (bench/floor/workflows.ts: no admission, no read model, no renderer, activities that return at once; one Worker with our cache of ${num(floor.cachedWorkflows, 0)} and the image's memory settings; ${num(floor['floor-two-tasks'].jobs, 0)} jobs started by ${num(floor.submitters, 0)} submitters, then drained): a job of two workflow tasks costs the worker ${num(floor['floor-two-tasks'].workerCpuSecondsPer1000)} CPU s per 1,000 jobs and the server ${num(floor['floor-two-tasks'].serverCpuSecondsPer1000)}, and drains at ${num(floor['floor-two-tasks'].jobsPerSecond, 1)} jobs/s;${floor['floor-three-tasks'] ? ` a job of three (the fewest for a job that waits for admission's grant in its workflow: its start, the grant, the render's result) ${num(floor['floor-three-tasks'].workerCpuSecondsPer1000)} and ${num(floor['floor-three-tasks'].serverCpuSecondsPer1000)} CPU s at ${num(floor['floor-three-tasks'].jobsPerSecond, 1)} jobs/s;` : ''} a job of four workflow tasks (as many as ours: its start, entering the queue, the grant, the render's result) costs ${num(floor['floor-four-tasks'].workerCpuSecondsPer1000)} and ${num(floor['floor-four-tasks'].serverCpuSecondsPer1000)} CPU s and drains at ${num(floor['floor-four-tasks'].jobsPerSecond, 1)} jobs/s, ${num(floor['floor-four-tasks'].workerCpuMsPerWorkflowTask)} worker CPU ms per workflow task.`,
              floor['floor-three-tasks']
                ? floorAgainstBudgets(floor['floor-three-tasks'], 3)
                : floorAgainstBudgets(floor['floor-four-tasks'], 4),
            ]
          : []),
      ].join('\n');
    },
  },

  cli: {
    files: ['latest.json'],
    render(files) {
      const f = need(files, 'latest.json');
      const s = scenario(f, 'cli');
      const id = 'temporal-1s';
      return `From ${cite(f)}, ${num(s.params.runs)} runs each, a new process per command, no worker running: \`render-queue --help\` ${fig(s, id, 'helpMs')} ms, one \`submit\` ${fig(s, id, 'submitMs')} ms with the bundled CLI (\`dist/cli.js\`), against ${fig(s, id, 'unbundledHelpMs')} ms and ${fig(s, id, 'unbundledSubmitMs')} ms for the unbundled sources under tsx; \`submit --file\` with ${num(s.params.batch)} jobs in one process: ${fig(s, id, 'batchJobsPerSecond', 0)} jobs/s.`;
    },
  },

  'queue-positions': {
    files: ['queue-positions.json'],
    render(files) {
      const f = need(files, 'queue-positions.json');
      const j = f.json as {
        burst: number;
        runs: number;
        sizes: Record<string, number>[];
        interference: {
          publishesMeanwhile: number;
          writes: number;
          statusWriteMs: { p50: number; p99: number };
          insertMs: { p50: number; p99: number };
        };
      };
      const rows = j.sizes.map((z) => [
        num(z.waiting),
        num(z.oldRewritePerChangeMs),
        `${num(z.newPublishAfterHeadBurstMs)} (${num(z.rowsWrittenHeadBurst)} rows)`,
        num(z.newPerChangeAmortisedHeadMs),
        `${num(z.newPublishAfterTailBurstMs)} (${num(z.rowsWrittenTailBurst)} rows)`,
        num(z.newPerChangeAmortisedTailMs),
      ]);
      const i = j.interference;
      return [
        `From ${cite(f)}, PostgreSQL, medians of ${num(j.runs)} runs; a burst is ${num(j.burst)} changes in one second.`,
        '',
        table(
          [
            'jobs waiting',
            'old rewrite, ms per change',
            'publish after a head burst, ms',
            'per change, ms',
            'publish after a tail burst, ms',
            'per change, ms',
          ],
          rows,
        ),
        '',
        `While publishes of the largest size ran back to back (${num(i.publishesMeanwhile)} of them, ${num(i.writes)} writes meanwhile), status writes on another connection took p50 ${num(i.statusWriteMs.p50)} ms / p99 ${num(i.statusWriteMs.p99)} ms and frontend inserts p50 ${num(i.insertMs.p50)} ms / p99 ${num(i.insertMs.p99)} ms.`,
      ].join('\n');
    },
  },

  'full-run': {
    files: ['latest.json'],
    render(files) {
      const f = need(files, 'latest.json');
      const sizes = Object.values(f.scenarios)
        .map((s) => (typeof s.params.jobs === 'number' ? `${s.id} ${num(s.params.jobs)} jobs` : null))
        .filter(Boolean);
      const d = f.json.determinism as
        | { replayed: number; failures: unknown[]; admissionRunsReplaced?: unknown[] }
        | undefined;
      const replay = d
        ? ` After the scenarios, ${num(d.replayed)} recorded histories (every admission run and a sample of closed job runs) were replayed against the run's workflow code: ${d.failures.length === 0 ? 'none failed' : `${num(d.failures.length)} failed`}${d.admissionRunsReplaced?.length ? `; ${num(d.admissionRunsReplaced.length)} admission runs had failed live on nondeterminism and been replaced (docs/ARCHITECTURE.md)` : ''}.`
        : ' The run recorded no replay check.';
      return `From ${cite(f)}, ${num(f.durationS)} s (${versionsText(f)}): ${sizes.join(', ')}.${replay}`;
    },
  },

  targets: {
    files: ['latest.json'],
    render(files) {
      const f = need(files, 'latest.json');
      const lat = scenario(f, 'latency');
      const eff = scenario(f, 'efficiency');
      const pri = scenario(f, 'priority');
      const crash = scenario(f, 'crash');
      const res = scenario(f, 'resources');
      const met = (ok: boolean) => (ok ? 'met' : 'missed');
      const p99a = raw(lat, 'temporal-100ms', 'p99Ms') ?? NaN;
      const p99b = raw(lat, 'temporal-1s', 'p99Ms') ?? NaN;
      const over = raw(eff, 'temporal-1s', 'overIdeal') ?? NaN;
      const inv = Math.max(
        raw(pri, 'temporal-1s', 'inversions') ?? NaN,
        raw(pri, 'temporal-100ms', 'inversions') ?? NaN,
      );
      const fifo = raw(pri, 'temporal-1s', 'fifoViolations') ?? NaN;
      const jobs = raw(pri, 'temporal-1s', 'jobs') ?? NaN;
      const c = raw(crash, 'temporal-1s', 'maxS') ?? NaN;
      const rss = raw(res, 'temporal-1s', 'peakRssMb') ?? NaN;
      return `Against the targets, in that run (${f.name}): pick-up p99 under 250 ms: ${met(p99a < 250)} at 100 ms (${num(p99a)} ms), ${met(p99b < 250)} at the production 1 s setting (${num(p99b)} ms); makespan within 1.10x ideal: ${met(over <= 1.1)} (${num(over)}x); zero priority inversions: ${met(inv === 0)}; zero FIFO violations: ${met(fifo === 0)} (${pct(fifo / jobs)} of starts, poll 1 s); crash detection under 30 s: ${met(c < 30)} (${num(c)} s); worker peak RSS under 300 MB: ${met(rss < 300)} (${num(rss)} MB at ${num(res.params.jobs)} jobs).`;
    },
  },

  'other-scenarios': {
    files: ['*.json'],
    render(files) {
      // Scenario reports no other block prints: a new results file (e.g. admission.json) shows up
      // here, as a generic table, as soon as the report is regenerated.
      const shown = new Set(['latest.json']);
      const tables = Object.values(files)
        .filter((f) => !shown.has(f.name))
        .flatMap((f) => Object.values(f.scenarios).map((s) => scenarioTable(f, s)));
      return tables.length
        ? tables.join('\n\n')
        : 'No other results file holds scenario reports yet (files in a format of their own are listed in the table of results files).';
    },
  },

  charts: {
    files: ['*.json'],
    render(files) {
      return charts(Object.values(files))
        .map((c) =>
          isDrawn(c)
            ? `![${c.title}](charts/${c.file})`
            : `- ${c.title}: not drawn, ${c.reason} (a scenario report with it appears in the chart once a results file holds it).`,
        )
        .join('\n\n');
    },
  },

  'peer-wins': {
    files: ['latest.json'],
    render(files) {
      const f = need(files, 'latest.json');
      const lat = scenario(f, 'latency');
      const eff = scenario(f, 'efficiency');
      const thr = scenario(f, 'throughput');
      const pri = scenario(f, 'priority');
      const crash = scenario(f, 'crash');
      const res = scenario(f, 'resources');
      const P = 'temporal-1s';
      const less = (a: number | null, b: number | null) => a !== null && b !== null && a < b;
      // Who wins is read from the run: the heading and the reason follow the figures.
      const bullmqLatency = less(raw(lat, 'bullmq', 'p99Ms'), raw(lat, P, 'p99Ms'));
      const bullmqMakespan = less(raw(eff, 'bullmq', 'makespanS'), raw(eff, P, 'makespanS'));
      const bullmqThroughput = less(
        raw(thr, 'temporal-100ms', 'jobsPerSecond'),
        raw(thr, 'bullmq', 'jobsPerSecond'),
      );
      const peersFifo =
        raw(pri, 'bullmq', 'fifoViolations') === 0 && raw(pri, 'old-poller-1s', 'fifoViolations') === 0;
      const oursFifo =
        raw(pri, P, 'fifoViolations') === 0 && raw(pri, 'temporal-100ms', 'fifoViolations') === 0;
      const peersMemory = ['bullmq', 'old-poller-1s'].every(
        (peer) =>
          less(raw(res, peer, 'peakRssMb'), raw(res, P, 'peakRssMb')) &&
          less(raw(res, peer, 'cpuSecondsPer1000'), raw(res, P, 'cpuSecondsPer1000')),
      );
      const oursCrash =
        less(raw(crash, P, 'meanS'), raw(crash, 'bullmq', 'meanS')) &&
        less(raw(crash, P, 'meanS'), raw(crash, 'old-poller-1s', 'meanS'));
      const chain =
        "a job here goes through the Temporal server several times before its render starts (start, the first workflow task, admission's grant, the render activity task), each a round trip to a server that persists it, on the same two cores";
      return [
        `Figures from the full run ${cite(f)}.`,
        '',
        `- **${bullmqLatency ? 'BullMQ wins pick-up latency' : 'Pick-up latency'}**: p50 ${fig(lat, 'bullmq', 'p50Ms')} ms / p99 ${fig(lat, 'bullmq', 'p99Ms')} ms against this project's ${fig(lat, P, 'p50Ms')} / ${fig(lat, P, 'p99Ms')} ms at the production 1 s poll, both timed from the frontend's insert (${method(lat, P)}).${bullmqLatency ? ` Why: a BullMQ job is one Redis move away from a waiting worker; ${chain}.` : ''}`,
        `- **${bullmqMakespan && bullmqThroughput ? 'BullMQ wins scheduling efficiency and throughput' : 'Scheduling efficiency and throughput'}**: makespan ${fig(eff, 'bullmq', 'makespanS')} s (${fig(eff, 'bullmq', 'overIdeal')}x ideal) against ${fig(eff, P, 'makespanS')} s (${fig(eff, P, 'overIdeal')}x); ${fig(thr, 'bullmq', 'jobsPerSecond')} jobs/s against ${fig(thr, P, 'jobsPerSecond')} (poll 1 s) and ${fig(thr, 'temporal-100ms', 'jobsPerSecond')} (100 ms).${bullmqMakespan && bullmqThroughput ? ` Why: ${chain}, and that chain bounds how fast slots are handed on; BullMQ's static Manim/general split costs it little with this mix. The chain buys durable history, server-side retries and timeouts, fleet-wide caps and order, and a read model that never goes backwards.` : ''}`,
        `- **${peersFifo && !oursFifo ? 'Both peers keep submission order within a priority' : 'Submission order within a priority'}**: FIFO violations ${fig(pri, 'old-poller-1s', 'fifoViolations')} (old poller) and ${fig(pri, 'bullmq', 'fifoViolations')} (BullMQ) against ${fig(pri, P, 'fifoViolations')} (poll 1 s) and ${fig(pri, 'temporal-100ms', 'fifoViolations')} (100 ms) of ${fig(pri, P, 'jobs')} starts, counted at the renderers; priority inversions ${fig(pri, P, 'inversions')} / ${fig(pri, 'temporal-100ms', 'inversions')} for this project and ${fig(pri, 'bullmq', 'inversions')} for BullMQ.${oursFifo ? '' : ` Why, for this project: each grant still travels to its job workflow and from there as a render activity task through the server, so a start reaches its renderer some hundreds of ms after admission chose it, and a slot freed meanwhile can make an earlier choice look late.${raw(pri, P, 'inversionsAtGrant') === null ? '' : ` Counted at admission's grants instead (each job's start taken when its grant reached its workflow), the same run shows ${fig(pri, P, 'inversionsAtGrant')} inversions and ${fig(pri, P, 'fifoViolationsAtGrant')} FIFO violations (poll 1 s), ${fig(pri, 'temporal-100ms', 'inversionsAtGrant')} and ${fig(pri, 'temporal-100ms', 'fifoViolationsAtGrant')} (100 ms).`}`}${(raw(pri, 'bullmq', 'fifoViolations') ?? 0) > 0 ? " Why, for BullMQ: it keeps order within each pool's queue, but across renderers its static split starts a Manim job in a free Manim slot while an older or higher general job waits for one of the general slots, and that counts here." : ''}`,
        `- **${peersMemory ? 'Both peers win memory and CPU' : 'Memory and CPU'}**: worker peak RSS ${fig(res, P, 'peakRssMb')} MB and ${fig(res, P, 'cpuSecondsPer1000')} CPU s per 1,000 jobs against ${fig(res, 'old-poller-1s', 'peakRssMb')} MB / ${fig(res, 'old-poller-1s', 'cpuSecondsPer1000')} s (old poller) and ${fig(res, 'bullmq', 'peakRssMb')} MB / ${fig(res, 'bullmq', 'cpuSecondsPer1000')} s (BullMQ).${peersMemory ? ' Why: Temporal Workers with the Rust core and workflow code in V8 isolates, against a plain Node process.' : ''}`,
        `- **${oursCrash ? 'This project wins crash detection' : 'Crash detection'}**: ${fig(crash, P, 'meanS')} s until a killed render runs again, against ${fig(crash, 'bullmq', 'meanS')} s for BullMQ (${method(crash, 'bullmq')}: its lock must expire, then two stalled checks) and ${fig(crash, 'old-poller-1s', 'meanS')} s for the old poller (${method(crash, 'old-poller-1s')}: scaled run plus its 10-minute timeout); and against the old poller's real 60 s interval, pick-up p50 ${fig(lat, 'old-poller-60s', 'p50Ms')} ms (${method(lat, 'old-poller-60s')}).`,
      ].join('\n');
    },
  },
};

function blockFiles(name: string, from: string): string[] {
  const named = from.split(',').map((s) => s.trim().replace(/^bench\/results\//, ''));
  const declared = name.startsWith('scenario:') ? undefined : BLOCKS[name]?.files;
  if (!name.startsWith('scenario:') && !declared) throw new Error(`unknown generated block "${name}"`);
  if (declared && declared.join(',') !== named.join(',')) {
    throw new Error(
      `block "${name}" reads ${declared.map((d) => `bench/results/${d}`).join(', ')}; its marker says "${from}"`,
    );
  }
  return named;
}

export function renderBlock(name: string, from: string, files: Files): string {
  const named = blockFiles(name, from);
  if (name.startsWith('scenario:')) {
    if (named.length !== 1) throw new Error(`block "${name}" takes one results file`);
    const file = need(files, named[0]!);
    return scenarioTable(file, scenario(file, name.slice('scenario:'.length)));
  }
  return BLOCKS[name]!.render(files);
}

/** Formatted as `prettier --check .` wants it, with this repository's settings wherever the file is. */
async function formatMarkdown(text: string, doc: string): Promise<string> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(path.join(ROOT, doc))) ?? {};
  return prettier.format(text, { ...options, filepath: path.join(ROOT, doc) });
}

export async function generateDoc(text: string, doc: string, files: Files): Promise<string> {
  const out = text.replace(BLOCK_RE, (_m, name: string, from: string) => {
    return `<!-- generated:${name} from ${from} -->\n\n${renderBlock(name, from, files)}\n\n<!-- /generated -->`;
  });
  return formatMarkdown(out, doc);
}

/** Every output path (relative to root) with the content root's bench/results give it. */
export async function generate(root = ROOT): Promise<Map<string, string>> {
  const files = Object.fromEntries(
    readResultsDir(path.join(root, 'bench', 'results')).map((f) => [f.name, f]),
  );
  const out = new Map<string, string>();
  for (const doc of DOCS) {
    out.set(doc, await generateDoc(readFileSync(path.join(root, doc), 'utf8'), doc, files));
  }
  for (const chart of charts(Object.values(files))) {
    if (isDrawn(chart)) out.set(`${CHARTS_DIR}/${chart.file}`, await renderSvg(chart.spec));
  }
  return out;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  // --root=DIR: another copy of docs/ and bench/results/ (the test checks a tampered copy fails).
  const rootArg = process.argv.find((a) => a.startsWith('--root='));
  const root = rootArg ? path.resolve(rootArg.slice('--root='.length)) : ROOT;
  const out = await generate(root);
  const stale: string[] = [];
  for (const [rel, content] of out) {
    const file = path.join(root, rel);
    const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (current === content) continue;
    stale.push(rel);
    if (!check) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
  }
  // A chart no results file can draw any more is removed, not left stale.
  const chartsDir = path.join(root, CHARTS_DIR);
  for (const name of existsSync(chartsDir) ? readdirSync(chartsDir) : []) {
    const rel = `${CHARTS_DIR}/${name}`;
    if (name.endsWith('.svg') && !out.has(rel)) {
      stale.push(`${rel} (no longer drawn)`);
      if (!check) unlinkSync(path.join(root, rel));
    }
  }
  if (check) {
    if (stale.length) {
      process.stderr.write(
        `not generated from bench/results (run npm run bench:report): ${stale.join(', ')}\n`,
      );
      process.exitCode = 1;
    } else process.stdout.write('docs and charts match bench/results\n');
  } else {
    process.stdout.write(stale.length ? `wrote ${stale.join(', ')}\n` : 'nothing changed\n');
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
