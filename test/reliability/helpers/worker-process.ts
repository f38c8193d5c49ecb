/**
 * The worker as the separate process it is in production (`src/worker.ts`), with its output
 * captured, so tests can kill -9 it, restart it and read every line it logged.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../../dev/server/tool-paths';
import { workflowBundle } from '../../../src/worker/create-workers';

export interface WorkerProcess {
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resident set size in KiB, from /proc (Linux). */
  rssKiB(): number;
}

let bundlePath: string | undefined;

/** The workflow bundle built once per test file, so a restarted worker is ready in seconds. */
export async function prebuiltBundle(): Promise<string> {
  if (!bundlePath) {
    bundlePath = join(mkdtempSync(join(tmpdir(), 'rq-bundle-')), 'workflows.js');
    writeFileSync(bundlePath, ((await workflowBundle()) as { code: string }).code);
  }
  return bundlePath;
}

/** Removes the prebuilt bundle (call from afterAll). */
export function removePrebuiltBundle(): void {
  if (bundlePath) rmSync(dirname(bundlePath), { recursive: true, force: true });
  bundlePath = undefined;
}

/** Starts `node --import tsx src/worker.ts`: one process, so its pid is the worker's own. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'worker.ts')],
    {
      cwd: PROJECT_ROOT,
      // Only what the test gives: nothing from the test runner's own environment leaks in.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const wake of [...waiters]) wake();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      for (const wake of [...waiters]) wake();
      resolve(exitInfo);
    });
  });
  return {
    pid: child.pid!,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            finish();
            resolve(line);
          } else if (exitInfo) {
            finish();
            reject(
              new Error(
                `worker exited (${JSON.stringify(exitInfo)}) before logging ${pattern}:\n${text.slice(-3000)}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`worker did not log ${pattern} within ${timeoutMs} ms:\n${text.slice(-3000)}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (!exitInfo) child.kill(signal);
      return exited;
    },
    rssKiB() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      } catch {
        return Number.NaN;
      }
    },
  };
}
