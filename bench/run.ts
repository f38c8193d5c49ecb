/**
 * `npm run bench -- [--smoke|--quick|--full] [--only=latency,efficiency,...] [--out=path]`
 *
 * Runs every scenario against this project (two render-poll settings), the old poller (60 s and
 * 1 s) and BullMQ on this machine, in this run. Starts what it needs: the pinned Temporal dev
 * server, a throw-away PostgreSQL database per run (PGlite when PostgreSQL does not answer),
 * renderer simulators, and Redis when none answers (BullMQ is skipped, saying why, when it
 * cannot). Prints a table per scenario and writes bench/results/latest.json. Full is the default.
 */
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import os from 'node:os';
import path from 'node:path';
import { workflowBundle } from '../src/worker/create-workers';
import { postgresAvailable } from '../dev/db';
import { replayHistories } from '../dev/replay-check';
import type { ReplayCheck, ReplayFailure } from '../dev/replay-check';
import { devServerEnv } from '../dev/temporal';
import { JsonLogger } from '../src/observability/logger';
import { errorMessage } from '../src/shared/error-message';
import { ADMISSION_WORKFLOW_ID, WORKFLOW_TYPE } from '../src/shared/constants';
import { ensureRedis } from './lib/infra';
import { provenance } from './lib/provenance';
import { formatReport } from './lib/report';
import type { ScenarioReport, SystemResult } from './lib/report';
import { SIZES } from './scenarios/context';
import type { BenchContext, Size } from './scenarios/context';
import { latencyReport, measureLatency, startOldPoller60Latency } from './scenarios/latency';
import { admissionScenario } from './scenarios/admission';
import { cliScenario } from './scenarios/cli';
import { crashScenario, fleetScenario, resourcesScenario } from './scenarios/processes';
import { realisticScenario, saturationScenarios } from './scenarios/saturation';
import { throughputScenario } from './scenarios/throughput';
import { bullmqSystem, oldPollerSystem } from './systems/peers';
import { temporalSystem } from './systems/temporal';
import { SYSTEM_IDS, SYSTEM_LABELS } from './systems/types';
import type { SystemFactory, SystemId } from './systems/types';

export const SCENARIO_IDS = [
  'latency',
  'efficiency',
  'priority',
  'throughput',
  'crash',
  'resources',
  'cli',
  'admission',
  'realistic',
  'fleet',
] as const;
type ScenarioId = (typeof SCENARIO_IDS)[number];

interface Args {
  size: Size;
  /** --admission-waiting=N: the admission scenario's queue depth instead of the size's. */
  admissionWaiting?: number;
  only: Set<ScenarioId>;
  out: string;
}

function parseArgs(argv: string[]): Args {
  let size: Size = 'full';
  let only = new Set<ScenarioId>(SCENARIO_IDS);
  let out = path.join(__dirname, 'results', 'latest.json');
  let admissionWaiting: number | undefined;
  for (const arg of argv) {
    if (arg === '--smoke' || arg === '--quick' || arg === '--full') size = arg.slice(2) as Size;
    else if (arg.startsWith('--only=')) {
      const wanted = arg.slice(7).split(',');
      for (const w of wanted) {
        if (!(SCENARIO_IDS as readonly string[]).includes(w)) {
          throw new Error(`--only: unknown scenario "${w}" (expected ${SCENARIO_IDS.join(', ')})`);
        }
      }
      only = new Set(wanted as ScenarioId[]);
    } else if (arg.startsWith('--out=')) out = path.resolve(arg.slice(6));
    else if (arg.startsWith('--admission-waiting=')) {
      admissionWaiting = Number(arg.slice('--admission-waiting='.length));
      if (!Number.isInteger(admissionWaiting) || admissionWaiting < 1) {
        throw new Error(`--admission-waiting: expected a whole number of jobs, got "${arg.slice(20)}"`);
      }
    } else
      throw new Error(
        `unknown option ${arg} (expected --smoke, --quick, --full, --only=..., --out=..., --admission-waiting=N)`,
      );
  }
  return { size, only, out, ...(admissionWaiting !== undefined ? { admissionWaiting } : {}) };
}

const logger = new JsonLogger();
const log = (msg: string, fields: Record<string, unknown> = {}): void => logger.info(msg, fields);

function failedScenario(id: string, error: unknown): ScenarioReport {
  const note = `scenario failed: ${errorMessage(error)}`;
  const results = Object.fromEntries(
    SYSTEM_IDS.map((s) => [s, { method: 'skipped', figures: {}, note } satisfies SystemResult]),
  ) as Record<SystemId, SystemResult>;
  return { id, title: id, params: {}, columns: [], results, ratios: {} };
}

/** Admission runs are few and long; job runs are many and alike, so a sample of them serves. */
const JOB_RUNS_REPLAYED = 200;
const REPLAY_FAILURES_DIR = path.join('.data', 'replay-failures');

interface DeterminismCheck extends ReplayCheck {
  /**
   * Admission runs that failed on nondeterminism while running and were replaced by a fresh run
   * (createWorkerSet fails admission on it; see docs/ARCHITECTURE.md). Reported, not a failure of
   * the benchmark: the fleet carried on. Any other history that does not replay is in `failures`.
   */
  admissionRunsReplaced: ReplayFailure[];
}

async function checkDeterminism(client: Client, bundleCode: string): Promise<DeterminismCheck> {
  const admission = await replayHistories(client, {
    query: `WorkflowId = '${ADMISSION_WORKFLOW_ID}'`,
    bundleCode,
    saveFailuresTo: REPLAY_FAILURES_DIR,
  });
  const jobs = await replayHistories(client, {
    query: `WorkflowType = '${WORKFLOW_TYPE.renderJob}' AND ExecutionStatus != 'Running'`,
    bundleCode,
    limit: JOB_RUNS_REPLAYED,
    saveFailuresTo: REPLAY_FAILURES_DIR,
  });
  const replaced: ReplayFailure[] = [];
  const failures = [...jobs.failures];
  for (const failure of admission.failures) {
    const { status } = await client.workflow.getHandle(failure.workflowId, failure.runId).describe();
    (status.name === 'FAILED' ? replaced : failures).push(failure);
  }
  return { replayed: admission.replayed + jobs.replayed, failures, admissionRunsReplaced: replaced };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  log('bench starting', { size: args.size, scenarios: [...args.only] });
  const env = await devServerEnv();
  const bundlePath = path.join(os.tmpdir(), `render-queue-bench-bundle-${process.pid}.js`);
  const redis = await ensureRedis();
  let failures = 0;
  try {
    const bundle = (await workflowBundle()) as { code: string };
    writeFileSync(bundlePath, bundle.code);
    const factories: Partial<Record<SystemId, SystemFactory>> = {
      'temporal-1s': temporalSystem(env, 'temporal-1s', 1000),
      'temporal-100ms': temporalSystem(env, 'temporal-100ms', 100),
      'old-poller-60s': oldPollerSystem('old-poller-60s', 60_000),
      'old-poller-1s': oldPollerSystem('old-poller-1s', 1000),
    };
    const insertFactories: Partial<Record<SystemId, SystemFactory>> = {
      'temporal-1s': temporalSystem(env, 'temporal-1s', 1000, 'insert'),
      'temporal-100ms': temporalSystem(env, 'temporal-100ms', 100, 'insert'),
    };
    const unavailable: Partial<Record<SystemId, string>> = {};
    if (args.size === 'smoke') {
      // The smoke size checks the plumbing in CI; the 100 ms variant doubles its longest part.
      delete factories['temporal-100ms'];
      delete insertFactories['temporal-100ms'];
      unavailable['temporal-100ms'] = 'smoke size runs the production variant (temporal-1s) only';
    }
    if (redis.available) factories.bullmq = bullmqSystem();
    else {
      unavailable.bullmq = `BullMQ skipped: ${redis.reason}`;
      process.stdout.write(`${unavailable.bullmq}\n`);
    }
    const ctx: BenchContext = {
      size: args.size,
      sizes: {
        ...SIZES[args.size],
        ...(args.admissionWaiting ? { admissionWaiting: args.admissionWaiting } : {}),
      },
      env,
      factories,
      insertFactories,
      unavailable,
      bundlePath,
      postgres: postgresAvailable(),
      log: (msg, fields) => log(msg, fields),
    };
    const reports: ScenarioReport[] = [];
    /** The results file: written whole at the end; while the run goes, `<out>.partial` holds what is done. */
    const resultsJson = (finishedAt: Date, determinism?: DeterminismCheck) => {
      const cpus = os.cpus();
      return {
        size: args.size,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationS: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
        machine: {
          cpus: cpus.length,
          cpuModel: cpus[0]?.model ?? 'unknown',
          memoryGb: Math.round(os.totalmem() / 1e9),
          node: process.version,
          platform: `${os.platform()} ${os.release()}`,
        },
        database: ctx.postgres ? 'postgres' : 'pglite',
        redis: redis.available ? (redis.started ? 'started by the bench' : 'already running') : 'unavailable',
        systems: Object.fromEntries(SYSTEM_IDS.map((id) => [id, SYSTEM_LABELS[id]])),
        scenarios: Object.fromEntries(reports.map((r) => [r.id, r])),
        ...(determinism ? { determinism } : { partial: true }),
        provenance: provenance(),
      };
    };
    const writeResults = (file: string, json: ReturnType<typeof resultsJson>) => {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    };
    const writePartial = () => writeResults(`${args.out}.partial`, resultsJson(new Date()));
    const emit = (report: ScenarioReport) => {
      reports.push(report);
      // A run that dies later (the benchmark process itself, e.g. an SDK crash) keeps what it measured.
      writePartial();
      process.stdout.write(`\n${formatReport(report)}\n`);
    };
    const guarded = async (ids: string[], run: () => Promise<ScenarioReport[]>) => {
      try {
        for (const report of await run()) emit(report);
      } catch (error) {
        failures += 1;
        log('scenario failed', { scenarios: ids, error: String(error) });
        for (const id of ids) emit(failedScenario(id, error));
      }
    };
    // The 60 s poller's latency runs on a clock of minutes: started first, alongside everything
    // else (it is idle between polls), and its table printed last.
    const old60 = args.only.has('latency') ? startOldPoller60Latency(ctx) : undefined;
    old60?.catch(() => undefined);
    const latency = old60 ? measureLatency(ctx) : undefined;
    latency?.catch(() => undefined);
    await latency?.catch(() => undefined);
    if (args.only.has('efficiency') || args.only.has('priority')) {
      await guarded(['efficiency', 'priority'], async () =>
        (await saturationScenarios(ctx)).filter((r) => args.only.has(r.id as ScenarioId)),
      );
    }
    if (args.only.has('throughput'))
      await guarded(['throughput'], async () => [await throughputScenario(ctx)]);
    if (args.only.has('resources')) await guarded(['resources'], async () => [await resourcesScenario(ctx)]);
    if (args.only.has('cli')) await guarded(['cli'], async () => [await cliScenario(ctx)]);
    if (args.only.has('admission')) await guarded(['admission'], async () => [await admissionScenario(ctx)]);
    if (args.only.has('realistic')) await guarded(['realistic'], async () => [await realisticScenario(ctx)]);
    if (args.only.has('fleet')) await guarded(['fleet'], async () => [await fleetScenario(ctx)]);
    if (args.only.has('crash')) await guarded(['crash'], async () => [await crashScenario(ctx)]);
    if (old60 && latency) {
      ctx.log('latency', { system: 'old-poller-60s', waiting: 'for its last poll cycle' });
      await guarded(['latency'], async () => [latencyReport(ctx, await latency, await old60)]);
    }

    // Every admission run and a sample of job runs from this whole benchmark must replay: a
    // nondeterminism that only load brings out fails the run here, naming the workflow.
    const determinism = await checkDeterminism(env.client, bundle.code);
    if (determinism.failures.length > 0) {
      failures += 1;
      log('histories do not replay', { failures: determinism.failures });
    }
    if (determinism.admissionRunsReplaced.length > 0) {
      log('admission runs failed on nondeterminism and were replaced', {
        runs: determinism.admissionRunsReplaced,
      });
    }

    const json = resultsJson(new Date(), determinism);
    writeResults(args.out, json);
    rmSync(`${args.out}.partial`, { force: true });
    process.stdout.write(`\nwrote ${path.relative(process.cwd(), args.out)} in ${json.durationS} s\n`);
  } finally {
    await env.teardown();
    redis.stop();
    try {
      unlinkSync(bundlePath);
    } catch {
      // never written
    }
  }
  if (failures) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    log('bench failed', { error: error instanceof Error ? error.stack : String(error) });
    process.exitCode = 1;
  });
}
