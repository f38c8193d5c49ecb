/**
 * Starts the pinned Temporal dev server as a child process (the demo, reliability tests):
 * Web UI on, persisted to a file, priority on, one partition, our search attributes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { retryStopsAtClose } from '../../src/util/retry-stops-at-close';
import { TEMPORAL_CLI_PATH, devServerExtraArgs, searchAttributeFlags } from './tool-paths';

export interface DevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The port asked for when it is free, any free port otherwise. */
export async function freePort(preferred = 0): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address ? address.port : undefined;
        server.close(() => resolve(chosen));
      });
    });
  return (preferred ? await tryPort(preferred) : undefined) ?? (await tryPort(0))!;
}

/** Command line of `temporal server start-dev` as every server the project starts uses it. */
export function devServerArgs(opts: {
  port: number;
  uiPort: number;
  dbFile: string;
  logLevel?: string;
}): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    opts.dbFile,
    '--log-level',
    opts.logLevel ?? 'error',
    ...devServerExtraArgs(),
    ...searchAttributeFlags(),
  ];
}

export async function startDevServer(opts: {
  dbFile: string;
  port?: number;
  uiPort?: number;
  timeoutMs?: number;
}) {
  const port = await freePort(opts.port ?? 7233);
  const uiPort = await freePort(opts.uiPort ?? port + 1000);
  const child = spawn(TEMPORAL_CLI_PATH, devServerArgs({ port, uiPort, dbFile: opts.dbFile }), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Temporal dev server exited at start: ${stderr.trim()}`);
    try {
      const connection = await Connection.connect({
        address,
        connectTimeout: 1000,
        plugins: [retryStopsAtClose()],
      });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Temporal dev server did not answer on ${address}: ${String(err)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  } satisfies DevServer;
}
