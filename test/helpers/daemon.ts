/**
 * Real monitoring daemons (Prometheus, Alertmanager) as child processes of a test, on free
 * loopback ports, stopped by their own pid; their output is kept for failure messages.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { eventually } from '../../dev/temporal';

/** A port that was free a moment ago; daemons that can't take port 0 are given one of these. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface Daemon {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `command` and waits until `readyPath` on `port` answers 200. */
export async function startDaemon(
  command: string,
  args: string[],
  opts: { port: number; readyPath: string; timeoutMs?: number },
): Promise<Daemon> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code));
  child.once('error', (error) => (output += `\n${String(error)}`));
  const url = `http://127.0.0.1:${opts.port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await eventually(
      `${command} ready on ${url}${opts.readyPath}`,
      async () => {
        if (exitCode !== undefined) throw new Error(`${command} exited with ${exitCode}:\n${output}`);
        const response = await fetch(`${url}${opts.readyPath}`, { signal: AbortSignal.timeout(1000) });
        return response.ok;
      },
      opts.timeoutMs ?? 20_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n--- ${command} output ---\n${output}`);
  }
  return { url, output: () => output, stop };
}
