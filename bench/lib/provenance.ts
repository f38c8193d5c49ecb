/**
 * What a results file records about where it came from: the machine, the versions that ran, the
 * commit and the date. Every results writer stores it under `provenance`; `npm run bench:report`
 * prints it next to every figure it takes from that file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Provenance {
  machine: { cpus: number; cpuModel: string; memoryGb: number; platform: string };
  versions: Record<string, string>;
  /** `git rev-parse HEAD`; dirty when the work tree had uncommitted changes (the run measured them too). */
  commit: { id: string; dirty: boolean } | null;
  date: string;
  /**
   * The 1-minute load average when the run's process began, before it loaded the machine itself:
   * what else was running (a figure measured beside other work is slower than on a quiet machine).
   */
  loadAtStart?: number;
}

const LOAD_AT_START = os.loadavg()[0];

const ROOT = path.resolve(__dirname, '..', '..');

/** Installed (not requested) versions, read from node_modules. */
const PACKAGES = [
  '@temporalio/worker',
  '@temporalio/client',
  '@temporalio/workflow',
  'pg',
  '@electric-sql/pglite',
  'bullmq',
  'ioredis',
];

function installedVersion(name: string): string | undefined {
  try {
    const json = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return json.version;
  } catch {
    return undefined;
  }
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The pinned Temporal CLI's own answer (`temporal version 1.9.1 (Server 1.32.0, UI ...)`). */
function temporalCliVersion(): string | undefined {
  const run = spawnSync(path.join(ROOT, '.tools', 'bin', 'temporal'), ['--version'], { encoding: 'utf8' });
  if (run.status !== 0) return undefined;
  const match = /version (\S+) \(Server (\S+?)[,)]/.exec(run.stdout);
  return match ? `${match[1]} (server ${match[2]})` : undefined;
}

/** `redis-server --version` when the binary exists (the bench uses it, or a Redis already running). */
function redisServerVersion(): string | undefined {
  const run = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (run.status !== 0) return undefined;
  return /v=(\S+)/.exec(run.stdout)?.[1];
}

export function provenance(extra: Record<string, string | undefined> = {}): Provenance {
  const cpus = os.cpus();
  const versions: Record<string, string> = { node: process.version };
  for (const name of PACKAGES) {
    const version = installedVersion(name);
    if (version) versions[name] = version;
  }
  const temporal = temporalCliVersion();
  if (temporal) versions['temporal-cli'] = temporal;
  const redis = redisServerVersion();
  if (redis) versions['redis-server'] = redis;
  for (const [key, value] of Object.entries(extra)) if (value) versions[key] = value;
  const id = git(['rev-parse', 'HEAD']);
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGb: Math.round(os.totalmem() / 1e9),
      platform: `${os.platform()} ${os.release()}`,
    },
    versions,
    commit: id ? { id, dirty: Boolean(status) } : null,
    date: new Date().toISOString(),
    loadAtStart: Math.round((LOAD_AT_START ?? 0) * 100) / 100,
  };
}
