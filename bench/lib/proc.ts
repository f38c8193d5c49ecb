/**
 * Worker processes for the scenarios that kill a worker or measure one: started with
 * `node --import tsx` (one process, so `kill -9` hits the worker itself, not a wrapper), read
 * from /proc for peak RSS and CPU time.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Renderer } from '../../src/shared/constants';

export const ROOT = path.join(__dirname, '..', '..');

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves when a stdout JSON line has this `msg`; rejects on exit or after timeoutMs. */
  ready: Promise<void>;
  /** Peak RSS (VmHWM) and RSS now in MB, user+system CPU seconds so far; null once the process is gone. */
  usage(): { peakRssMb: number; rssMb: number; cpuSeconds: number } | null;
  kill9(): void;
  /** The last 2,000 characters it wrote (stdout and stderr). */
  tail(): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves on exit. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * A worker entry compiled to one JavaScript file (dependencies stay in node_modules), so the
 * measured process runs compiled code as production does, without a TypeScript loader's cost.
 * Written under .data/ (inside the project, so node_modules resolve); built once per path.
 */
const compiled = new Map<string, Promise<string>>();
export function compileEntry(entry: string): Promise<string> {
  let out = compiled.get(entry);
  if (!out) {
    const file = path.join(ROOT, '.data', 'bench-build', `${path.basename(entry, '.ts')}.js`);
    out = import('esbuild').then(async ({ build }) => {
      await build({
        entryPoints: [path.join(ROOT, entry)],
        outfile: file,
        bundle: true,
        packages: 'external',
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        logLevel: 'error',
      });
      return file;
    });
    compiled.set(entry, out);
  }
  return out;
}

/** `script`: a TypeScript entry (run with tsx) or a compiled .js file (see compileEntry). */
export function startWorkerProcess(
  script: string,
  args: string[],
  env: Record<string, string>,
  readyMsg: string,
  timeoutMs = 60_000,
  nodeArgs: string[] = [],
): WorkerProcess {
  const entry = script.endsWith('.js') ? [script] : ['--import', 'tsx', script];
  const child = spawn(process.execPath, [...nodeArgs, ...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // BENCH_WORKER_LOG_DIR: every line the process writes, whole, in <dir>/<pid>.log (to read a crash).
  const logDir = process.env.BENCH_WORKER_LOG_DIR;
  if (logDir) {
    mkdirSync(logDir, { recursive: true });
    const file = createWriteStream(path.join(logDir, `${child.pid}.log`));
    child.stdout!.pipe(file, { end: false });
    child.stderr!.pipe(file, { end: false });
    void exited.then(() => file.end());
  }
  let tail = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script}: not ready after ${timeoutMs} ms; output: ${tail}`)),
      timeoutMs,
    );
    // The worker logs JSON lines to stderr, the bench's workers to stdout: watch both.
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        tail = `${tail}\n${line}`.slice(-2000);
        try {
          if ((JSON.parse(line) as { msg?: string }).msg === readyMsg) {
            clearTimeout(timer);
            resolve();
          }
        } catch {
          // not a JSON line
        }
      });
    }
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before it was ready; output: ${tail}`));
    });
  });
  ready.catch(() => undefined);
  const pid = child.pid!;
  return {
    child,
    pid,
    ready,
    usage: () => procUsage(pid),
    kill9: () => void child.kill('SIGKILL'),
    tail: () => tail,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** The Temporal dev server serving `address` (host:port), found by its command line; null if not here. */
export function temporalServerPid(address: string): number | null {
  const port = address.split(':').pop();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('start-dev') && args[args.indexOf('--port') + 1] === port) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

export function procUsage(pid: number): { peakRssMb: number; rssMb: number; cpuSeconds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    return {
      peakRssMb: hwm ? Number(hwm[1]) / 1024 : NaN,
      rssMb: rss ? Number(rss[1]) / 1024 : NaN,
      cpuSeconds: cpu,
    };
  } catch {
    return null;
  }
}

/**
 * The environment this project's worker process runs with in the bench, as production runs it:
 * the image's Node options and malloc arenas (read from the Dockerfile), a prebuilt workflow bundle,
 * no intake schedule, no metrics port.
 */
export function shippedWorkerEnv(options: {
  address: string;
  databaseUrl: string;
  urls: Record<Renderer, string>;
  bundlePath: string;
}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: options.address,
    TEMPORAL_NAMESPACE: 'default',
    DATABASE_URL: options.databaseUrl,
    MANIM_API_URL: options.urls.manim,
    REVIDEO_API_URL: options.urls.revideo,
    ORCHESTRATOR_API_URL: options.urls.orchestrator,
    INTAKE_INTERVAL_SECONDS: '0',
    WORKFLOW_BUNDLE_PATH: options.bundlePath,
    WORKER_SHUTDOWN_GRACE_SECONDS: '2',
    LOG_LEVEL: 'INFO',
    SUPABASE_URL: '',
    SUPABASE_SERVICE_ROLE_KEY: '',
    METRICS_PORT: '',
    ...imageMemorySettings(),
  };
}

/** The worker image's Node options (heap cap, nursery size) and malloc arenas, read from the Dockerfile. */
export function imageMemorySettings(): { NODE_OPTIONS: string; MALLOC_ARENA_MAX: string } {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const nodeOptions = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1];
  if (!nodeOptions) throw new Error('Dockerfile: no NODE_OPTIONS="..." line to run the worker with');
  const mallocArenaMax = /MALLOC_ARENA_MAX=(\d+)/.exec(dockerfile)?.[1];
  if (!mallocArenaMax) throw new Error('Dockerfile: no MALLOC_ARENA_MAX=<n> line to run the worker with');
  return { NODE_OPTIONS: nodeOptions, MALLOC_ARENA_MAX: mallocArenaMax };
}
