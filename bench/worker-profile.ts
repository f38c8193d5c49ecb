/**
 * Where a worker's CPU goes: `npx tsx bench/worker-profile.ts [jobs]` (default 1,000; PostgreSQL
 * needed, as for every multi-process figure). Runs the compiled worker with the image's Node
 * options and V8's CPU profiler on every thread, holds the renders until all jobs are in the
 * queue, lets them drain, then splits the worker's samples by where the code lives and puts the
 * Temporal server's CPU for the same span beside them. Writes bench/results/worker-profile.json.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowBundle } from '../src/worker/create-workers';
import { forEachConcurrently } from '../src/util/for-each-concurrently';
import { postgresAvailable } from '../dev/db';
import { devServerEnv } from '../dev/temporal';
import { completedCount, openBenchDb, sleep, startSims, waitUntil } from './lib/infra';
import { jobMix, submitBenchJob } from './lib/jobs';
import {
  ROOT,
  compileEntry,
  procUsage,
  shippedWorkerEnv,
  startWorkerProcess,
  temporalServerPid,
} from './lib/proc';
import { provenance } from './lib/provenance';
import { round } from './lib/stats';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a sampled function lives, in the few buckets the question needs. */
export function bucketOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'garbage collection';
    return 'native (V8, Node internals, the SDK core bridge)';
  }
  if (url.startsWith('node:')) return 'Node built-ins (streams, timers, http)';
  if (/workflow-bundle|webpack|\/src\/workflows\//.test(url)) return 'workflow code (sandbox: SDK + ours)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg?.startsWith('@temporalio/')) return 'Temporal SDK (worker, client, proto)';
  if (pkg === '@grpc/grpc-js' || pkg === 'protobufjs' || pkg === 'long') return 'gRPC and protobuf';
  if (pkg === 'pg' || pkg === 'pg-protocol' || pkg === 'pg-pool') return 'PostgreSQL driver';
  if (pkg) return 'other libraries';
  return 'this project (activities, store, logging)';
}

export function splitProfile(profile: CpuProfile): Record<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const micros = new Map<number, number>();
  profile.samples.forEach((id, i) => micros.set(id, (micros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const buckets: Record<string, number> = {};
  for (const [id, us] of micros) {
    const frame = byId.get(id)!.callFrame;
    const bucket = bucketOf(frame.url, frame.functionName);
    buckets[bucket] = (buckets[bucket] ?? 0) + us / 1e6;
  }
  return buckets;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1000);
  if (!postgresAvailable())
    throw new Error('PostgreSQL is not answering: the worker process needs a shared database');
  const env = await devServerEnv();
  const sims = await startSims();
  const db = await openBenchDb();
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'rq-worker-profile-'));
  const bundlePath = path.join(profileDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, ((await workflowBundle()) as { code: string }).code);
  const worker = startWorkerProcess(
    await compileEntry('src/worker.ts'),
    [],
    shippedWorkerEnv({ address: env.address, databaseUrl: db.url!, urls: sims.urls, bundlePath }),
    'worker running',
    60_000,
    ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
  );
  try {
    await worker.ready;
    await sleep(1000);
    const serverPid = temporalServerPid(env.address);
    const serverBefore = serverPid ? procUsage(serverPid) : null;
    const before = worker.usage()!;
    for (const sim of Object.values(sims.sims)) sim.hold();
    const jobs = jobMix({ count, durationMs: 0, seed: 31 });
    await forEachConcurrently(jobs, 10, (job) => submitBenchJob(env.client, job));
    await sleep(5000);
    for (const sim of Object.values(sims.sims)) sim.release();
    const ids = jobs.map((j) => j.id);
    await waitUntil(
      'every job completed',
      async () => (await completedCount(db.db, ids)) === ids.length,
      count * 1000,
    );
    const after = worker.usage()!;
    const serverAfter = serverPid ? procUsage(serverPid) : null;
    await worker.stop(10_000); // the profiles are written on a clean exit
    const profiles = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
    const threads = profiles.map((file) => {
      const split = splitProfile(JSON.parse(readFileSync(path.join(profileDir, file), 'utf8')) as CpuProfile);
      delete split.idle;
      const busy = Object.values(split).reduce((a, b) => a + b, 0);
      return { file, busySeconds: busy, buckets: split };
    });
    const total: Record<string, number> = {};
    for (const t of threads) for (const [k, v] of Object.entries(t.buckets)) total[k] = (total[k] ?? 0) + v;
    const busy = Object.values(total).reduce((a, b) => a + b, 0);
    const per1000 = (seconds: number) => round((seconds * 1000) / count, 2);
    const result = {
      date: new Date().toISOString(),
      jobs: count,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
      workerCpuSecondsPer1000: per1000(after.cpuSeconds - before.cpuSeconds),
      temporalServerCpuSecondsPer1000:
        serverBefore && serverAfter ? per1000(serverAfter.cpuSeconds - serverBefore.cpuSeconds) : null,
      profiledJsSecondsPer1000: per1000(busy),
      jsShareByWhere: Object.fromEntries(
        Object.entries(total)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, round(v / busy, 3)]),
      ),
      threads: threads.map((t) => ({
        busySecondsPer1000: per1000(t.busySeconds),
        topBucket: Object.entries(t.buckets).sort((a, b) => b[1] - a[1])[0]?.[0],
      })),
      provenance: provenance(),
      note: 'JS threads profiled by V8 (main thread and the workflow thread); the Rust core threads are in workerCpu but not in the profile',
    };
    const out = path.join(ROOT, 'bench', 'results', 'worker-profile.json');
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\nwrote ${path.relative(process.cwd(), out)}\n`);
  } finally {
    await worker.stop(5000);
    await sims.close();
    await db.close();
    await env.teardown();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
