/* Scratch: worker RSS/CPU with N jobs in flight, then throughput draining them. */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

function threads(pid: number) {
  const by: Record<string, number> = {};
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const cpu = (Number(f[11]) + Number(f[12])) / 100;
      const key = `${comm}`;
      if (process.env.PER_TID) by[`${comm}#${t}`] = cpu;
      by[key] = Math.round(((by[key] ?? 0) + cpu) * 10) / 10;
    } catch {}
  }
  return by;
}
import os from 'node:os';
import path from 'node:path';
import { submitJob } from '../src/client/submit';
import { workflowBundle } from '../src/worker/create-workers';
import { devServerEnv } from '../test/helpers/temporal';
import { completedCount, openBenchDb, sleep, startSims, waitUntil } from '../bench/lib/infra';
import { jobMix } from '../bench/lib/jobs';
import { procUsage, startWorkerProcess } from '../bench/lib/proc';
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const N = Number(process.argv[2] ?? 1000);
const extraEnv = JSON.parse(process.argv[3] ?? '{}') as Record<string, string>;

async function main() {
  const env = await devServerEnv();
  const bundlePath = path.join(os.tmpdir(), `scratch-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, ((await workflowBundle()) as { code: string }).code);
  const sims = await startSims();
  const db = await openBenchDb();
  const prof = process.env.PROF_DIR;
  const start = process.env.BUILT ? builtWorker : startWorkerProcess;
  const worker = start(
    prof ? '--cpu-prof' : 'src/worker.ts',
    prof ? [`--cpu-prof-dir=${prof}`, 'src/worker.ts'] : [],
    {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      DATABASE_URL: db.url!,
      MANIM_API_URL: sims.urls.manim,
      REVIDEO_API_URL: sims.urls.revideo,
      ORCHESTRATOR_API_URL: sims.urls.orchestrator,
      INTAKE_INTERVAL_SECONDS: '0',
      WORKFLOW_BUNDLE_PATH: bundlePath,
      WORKER_SHUTDOWN_GRACE_SECONDS: '2',
      LOG_LEVEL: 'INFO',
      SUPABASE_URL: '',
      SUPABASE_SERVICE_ROLE_KEY: '',
      METRICS_PORT: '',
      ...extraEnv,
    },
    'worker running',
  );
  const msgs: Record<string, number> = {};
  for (const stream of [worker.child.stdout!, worker.child.stderr!])
    readline.createInterface({ input: stream }).on('line', (line) => {
      const m = /"msg":"([^"]*)"/.exec(line);
      const k = m ? m[1]! : 'other';
      msgs[k] = (msgs[k] ?? 0) + 1;
    });
  worker.child.stderr!.on('data', (d: Buffer) => {
    const s = d.toString();
    if (/"level":"(error|warn)"/.test(s) && !/No (activities|workflows) registered/.test(s))
      process.stderr.write(s.slice(0, 400));
  });
  await worker.ready;
  await sleep(2000);
  const u0 = worker.usage()!;
  console.log('idle', u0);
  for (const sim of Object.values(sims.sims)) sim.hold();
  const jobs = jobMix({ count: N, durationMs: 0, seed: 31 });
  const queue = [...jobs];
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let job = queue.shift(); job; job = queue.shift())
        await submitJob(env.client, {
          id: job.id,
          jobType: job.jobType,
          priority: job.priority,
          renderer: job.renderer,
          payload: job.payload,
        });
    }),
  );
  console.log('submitted', N, 'in', Date.now() - t0, 'ms', worker.usage());
  await sleep(10_000);
  const u1 = worker.usage()!;
  console.log('in flight (held)', u1, 'cpu during submit+settle', (u1.cpuSeconds - u0.cpuSeconds).toFixed(1));
  const t1 = Date.now();
  for (const sim of Object.values(sims.sims)) sim.release();
  const ids = jobs.map((j) => j.id);
  await waitUntil(
    'done',
    async () => (await completedCount(db.db, ids)) === ids.length,
    60_000 + N * 1000,
    200,
  );
  const u2 = worker.usage()!;
  const secs = (Date.now() - t1) / 1000;
  const hist = await env.client.workflow.getHandle(`render-job-${jobs[N - 1]!.id}`).fetchHistory();
  const t0e =
    Number(hist.events?.[0]?.eventTime?.seconds ?? 0) * 1000 +
    Math.round((hist.events?.[0]?.eventTime?.nanos ?? 0) / 1e6);
  const events = (hist.events ?? []).map(
    (e) =>
      `${String(e.eventType)}@${Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6) - t0e}`,
  );
  const adm = await env.client.workflow.getHandle('render-queue-admission').describe();
  const summary = {
    events,
    admissionHistoryLength: adm.historyLength,
    N,
    peakRssMb: Math.round(u2.peakRssMb),
    cpuPer1000: (((u2.cpuSeconds - u0.cpuSeconds) * 1000) / N).toFixed(1),
    drainSeconds: secs.toFixed(1),
    drainJobsPerS: (N / secs).toFixed(1),
    idleRssMb: Math.round(u0.peakRssMb),
    heldRssMb: Math.round(u1.peakRssMb),
    cpuSubmitSettlePer1000: (((u1.cpuSeconds - u0.cpuSeconds) * 1000) / N).toFixed(1),
    threads: threads(worker.pid),
    msgs,
  };
  writeFileSync(process.env.OUT ?? '/tmp/res-out.json', JSON.stringify(summary));
  await worker.stop(5000);
  await sims.close();
  await db.close();
  await env.teardown();
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

function builtWorker(script: string, args: string[], env: Record<string, string>, readyMsg: string) {
  const nodeArgs =
    script === '--cpu-prof'
      ? ['--cpu-prof', args[0]!, 'scratch/dist/src/worker.js']
      : ['scratch/dist/src/worker.js'];
  const child = spawn(process.execPath, nodeArgs, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!])
      readline.createInterface({ input: stream }).on('line', (line) => {
        if (line.includes(`"msg":"${readyMsg}"`)) resolve();
      });
    child.once('exit', () => reject(new Error('exited')));
  });
  const pid = child.pid!;
  return {
    child,
    pid,
    ready,
    usage: () => procUsage(pid),
    kill9: () => void child.kill('SIGKILL'),
    stop: async (graceMs = 5000) => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(t);
    },
  };
}
