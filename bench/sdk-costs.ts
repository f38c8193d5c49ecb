/**
 * What the Temporal TypeScript SDK costs per workflow activation on this machine, apart from our
 * code: `npx tsx bench/sdk-costs.ts` writes bench/results/sdk-costs.json. Each figure is measured in
 * a fresh child process, the baseline and its variant one after the other.
 *
 * 1. The sandbox's watchdog. The SDK runs every call into the workflow sandbox with an execution
 *    timeout (`isolateExecutionTimeout`, 5 s; no setting turns it off), and for each such call Node
 *    starts and stops a watchdog thread. Per call, with and without a timeout.
 * 2. Replaying a job: the recorded job histories (test/fixtures/histories) replayed, as a worker
 *    does when a job's grant or render result arrives after the job left its workflow cache; CPU
 *    per replay and per activation, and the calls into the sandbox per activation.
 * 3. The SDK's stack-trace promise hook (every promise a workflow creates records a source-mapped
 *    stack trace, for the `__stack_trace` query): the same replays with the hook left out, in that
 *    child process only. The worker we ship keeps it.
 * 4. Memory per cached job workflow: the process's RSS growth with N job workflows held in one
 *    Worker's cache (dev server; each waits on its first activity, which nobody runs).
 * 5. The floor: the least any job costs on this stack (bench/floor/workflows.ts: no admission, no
 *    read model, no renderer, activities that return at once), with the image's memory settings and
 *    our cache size. FLOOR_JOBS workflows are started with no worker polling, then one Worker drains
 *    them: its CPU, the server's, and jobs per second, for a job of two workflow tasks and one of
 *    four (as many as a job of ours).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import {
  WORKER_LIMITS,
  WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
  renderJobWorkflowId,
} from '../src/shared/constants';
import { workflowBundle } from '../src/worker/create-workers';
import { devServerEnv, eventually } from '../dev/temporal';
import { forEachConcurrently } from '../src/util/for-each-concurrently';
import { ROOT, imageMemorySettings, procUsage, temporalServerPid } from './lib/proc';
import { provenance } from './lib/provenance';
import { round } from './lib/stats';

const HISTORIES = ['render-job-success', 'render-job-retried-then-completed', 'render-job-cancelled'];
const REPLAYS_PER_HISTORY = 100;
const WATCHDOG_CALLS = 20_000;
const CACHED_WORKFLOWS = 600;
const FLOOR_JOBS = 1_000;
const FLOOR_SUBMITTERS = 10;
/** The SDK's default isolateExecutionTimeout. */
const SDK_TIMEOUT_MS = 5_000;

const FLOOR_SHAPES = {
  'floor-two-tasks': 'floorOneStep',
  'floor-three-tasks': 'floorThreeTasks',
  'floor-four-tasks': 'floorFourTasks',
} as const;
type FloorProbe = keyof typeof FLOOR_SHAPES;
type Probe = 'watchdog' | 'replay' | 'replay-without-hook' | 'cache' | FloorProbe;

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function watchdog(): Record<string, number | null> {
  const context = vm.createContext({});
  const script = new vm.Script('1 + 1');
  const per = (options: vm.RunningScriptOptions) => {
    const cpu = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < WATCHDOG_CALLS; i++) script.runInContext(context, options);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000 / WATCHDOG_CALLS;
    return { wallUs, cpuUs: (cpuMs(cpu) * 1000) / WATCHDOG_CALLS };
  };
  per({}); // warm-up
  const plain = per({});
  const timed = per({ timeout: SDK_TIMEOUT_MS });
  return {
    wallUsPerCallWithTimeout: round(timed.wallUs, 1),
    cpuUsPerCallWithTimeout: round(timed.cpuUs, 1),
    wallUsPerCallWithout: round(plain.wallUs, 2),
    cpuUsPerCallWithout: round(plain.cpuUs, 2),
  };
}

async function replay(withoutHook: boolean): Promise<Record<string, number | null>> {
  if (withoutHook) {
    // Measurement only: the hook is installed once per process, on the first workflow Worker.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { globalHandlers } = require('@temporalio/worker/lib/workflow/vm-shared');
    globalHandlers.setPromiseHook = () => undefined;
  }
  let sandboxCalls = 0;
  const run = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function (this: vm.Script, ...args: Parameters<typeof run>) {
    if (args[1]?.timeout !== undefined) sandboxCalls += 1;
    return run.apply(this, args);
  };
  const histories = HISTORIES.map((name) =>
    historyFromJSON(
      JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/histories', `${name}.json`), 'utf8')),
    ),
  );
  const activations = histories
    .map((h) => (h.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length)
    .reduce((a, b) => a + b, 0);
  const bundle = await workflowBundle();
  const replayAll = async (times: number) => {
    let failed = 0;
    async function* all() {
      for (let i = 0; i < times; i++) {
        for (const [j, history] of histories.entries()) yield { workflowId: `replay-${i}-${j}`, history };
      }
    }
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, all())) {
      if (result.error) failed += 1;
    }
    if (failed) throw new Error(`${failed} replays failed`);
  };
  await replayAll(2); // warm-up: the sandbox's context and the JIT
  sandboxCalls = 0;
  const cpu = process.cpuUsage();
  const t0 = Date.now();
  await replayAll(REPLAYS_PER_HISTORY);
  const used = cpuMs(cpu);
  const replays = REPLAYS_PER_HISTORY * histories.length;
  return {
    replays,
    cpuMsPerReplay: round(used / replays, 2),
    cpuMsPerActivation: round(used / (REPLAYS_PER_HISTORY * activations), 2),
    wallMsPerReplay: round((Date.now() - t0) / replays, 2),
    sandboxCallsPerActivation: round(sandboxCalls / (REPLAYS_PER_HISTORY * activations), 1),
  };
}

async function cache(): Promise<Record<string, number | null>> {
  const env = await devServerEnv();
  try {
    const taskQueue = WORKFLOW_TASK_QUEUE.medium;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      maxCachedWorkflows: CACHED_WORKFLOWS + 10,
      enableNonLocalActivities: false,
    });
    const rssMb = () => process.memoryUsage().rss / 1e6;
    return await worker.runUntil(async () => {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const before = rssMb();
      for (let i = 0; i < CACHED_WORKFLOWS; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, CACHED_WORKFLOWS - i) }, async () => {
            const jobId = randomUUID();
            await env.client.workflow.start(WORKFLOW_TYPE.renderJob, {
              workflowId: renderJobWorkflowId(jobId),
              taskQueue,
              args: [{ jobId, jobType: 'concept_explainer', payload: {}, priority: 'medium' } as never],
            });
          }),
        );
      }
      await eventually(
        `${CACHED_WORKFLOWS} job workflows in the cache`,
        () => worker.getStatus().numCachedWorkflows >= CACHED_WORKFLOWS,
        120_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      return {
        cachedWorkflows: worker.getStatus().numCachedWorkflows,
        rssGrowthMb: round(rssMb() - before, 0),
        kbPerCachedWorkflow: round(((rssMb() - before) * 1000) / CACHED_WORKFLOWS, 0),
      };
    });
  } finally {
    await env.teardown();
  }
}

async function floor(probe: FloorProbe): Promise<Record<string, number | null>> {
  const env = await devServerEnv();
  try {
    const taskQueue = `bench-${probe}`;
    const codePath = process.env.SDK_COSTS_FLOOR_BUNDLE;
    if (!codePath) throw new Error('SDK_COSTS_FLOOR_BUNDLE: the floor workflows bundled by the parent');
    const ids = Array.from({ length: FLOOR_JOBS }, (_, i) => `${probe}-${i}`);
    await forEachConcurrently(ids, FLOOR_SUBMITTERS, async (workflowId) => {
      await env.client.workflow.start(FLOOR_SHAPES[probe], { workflowId, taskQueue });
    });
    const running = async () =>
      (await env.client.workflow.count(`TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`)).count;
    await eventually(
      `${FLOOR_JOBS} floor workflows visible`,
      async () => (await running()) === FLOOR_JOBS,
      60_000,
      250,
    );
    const serverPid = temporalServerPid(env.address);
    const server0 = serverPid === null ? null : procUsage(serverPid);
    const cpu = process.cpuUsage();
    const t0 = Date.now();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      // Prebuilt, as the image ships its bundle (bundling would not fit the image's heap cap).
      workflowBundle: { codePath },
      activities: { floorStep: async () => undefined },
      // Our job Workers' cache: the floor pays the same replays for a backlog larger than it.
      maxCachedWorkflows: WORKER_LIMITS.cachedWorkflowsPerQueue,
    });
    const drainedMs = await worker.runUntil(async () => {
      await eventually('floor workflows drained', async () => (await running()) === 0, 600_000, 250);
      return Date.now() - t0;
    });
    const workerCpuMs = cpuMs(cpu);
    const server1 = serverPid === null ? null : procUsage(serverPid);
    const workflowTasks = { 'floor-two-tasks': 2, 'floor-three-tasks': 3, 'floor-four-tasks': 4 }[probe];
    return {
      jobs: FLOOR_JOBS,
      workflowTasksPerJob: workflowTasks,
      workerCpuSecondsPer1000: round(workerCpuMs / FLOOR_JOBS, 2),
      serverCpuSecondsPer1000:
        server0 && server1 ? round(((server1.cpuSeconds - server0.cpuSeconds) * 1000) / FLOOR_JOBS, 2) : null,
      workerCpuMsPerWorkflowTask: round(workerCpuMs / FLOOR_JOBS / workflowTasks, 2),
      jobsPerSecond: round(FLOOR_JOBS / (drainedMs / 1000), 1),
      workerPeakRssMb: round(process.memoryUsage().rss / 1e6, 0),
    };
  } finally {
    await env.teardown();
  }
}

async function child(probe: Probe): Promise<void> {
  const figures =
    probe === 'watchdog'
      ? watchdog()
      : probe === 'cache'
        ? await cache()
        : probe in FLOOR_SHAPES
          ? await floor(probe as FloorProbe)
          : await replay(probe === 'replay-without-hook');
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

function inChild(probe: Probe, env: Record<string, string> = {}): Record<string, number | null> {
  const out = spawnSync(process.execPath, [...process.execArgv, __filename], {
    env: { ...process.env, ...env, SDK_COSTS_PROBE: probe },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = out.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (out.status !== 0 || !line) throw new Error(`probe ${probe} failed: ${out.stderr.slice(-2000)}`);
  return JSON.parse(line) as Record<string, number | null>;
}

async function floorProbes(): Promise<Record<FloorProbe, Record<string, number | null>>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-floor-'));
  try {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('./floor/workflows'),
      logger: new DefaultLogger('WARN'),
    });
    const codePath = path.join(dir, 'floor-workflows.js');
    writeFileSync(codePath, code);
    // With the worker image's memory settings, as our worker is measured (bench/lib/proc.ts).
    const env = { ...imageMemorySettings(), SDK_COSTS_FLOOR_BUNDLE: codePath };
    return {
      'floor-two-tasks': inChild('floor-two-tasks', env),
      'floor-three-tasks': inChild('floor-three-tasks', env),
      'floor-four-tasks': inChild('floor-four-tasks', env),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const watchdogFigures = inChild('watchdog');
  const replayFigures = inChild('replay');
  const withoutHook = inChild('replay-without-hook');
  const cacheFigures = inChild('cache');
  const floorFigures = await floorProbes();
  const result = {
    date: new Date().toISOString(),
    watchdog: { ...watchdogFigures, calls: WATCHDOG_CALLS, timeoutMs: SDK_TIMEOUT_MS },
    replay: { ...replayFigures, histories: HISTORIES },
    replayWithoutPromiseHook: withoutHook,
    promiseHookShareOfReplayCpu: round(1 - withoutHook.cpuMsPerReplay! / replayFigures.cpuMsPerReplay!, 2),
    watchdogCpuShareOfActivation: round(
      (replayFigures.sandboxCallsPerActivation! * watchdogFigures.cpuUsPerCallWithTimeout!) /
        1000 /
        replayFigures.cpuMsPerActivation!,
      2,
    ),
    cache: { ...cacheFigures, workflow: WORKFLOW_TYPE.renderJob },
    floor: {
      ...floorFigures,
      submitters: FLOOR_SUBMITTERS,
      cachedWorkflows: WORKER_LIMITS.cachedWorkflowsPerQueue,
    },
    provenance: provenance(),
    note: 'each probe in a fresh child process; the promise hook is left out in its own probe only (the shipped worker keeps it)',
  };
  const out = path.join(__dirname, 'results', 'sdk-costs.json');
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path.relative(process.cwd(), out)}\n`);
}

const probe = process.env.SDK_COSTS_PROBE as Probe | undefined;
if (probe) {
  child(probe).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
