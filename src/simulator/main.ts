/**
 * Runs the three renderer simulators as a process (demo, reliability tests that kill the worker).
 * Logs one JSON line per backend with its URL, then one line per render event; stops on
 * SIGINT/SIGTERM. Flags: --duration-ms=N (default render length), --steps=N (progress steps).
 */
import { startAllSimulators } from './start-all';

function flag(name: string): number | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return undefined;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a non-negative integer`);
  }
  return value;
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', ...fields })}\n`);
}

async function main(): Promise<void> {
  const all = await startAllSimulators({
    defaultDurationMs: flag('duration-ms'),
    progressSteps: flag('steps'),
  });
  for (const sim of Object.values(all.simulators)) {
    log({ msg: 'renderer simulator listening', backend: sim.backend, url: sim.url });
    sim.onEvent((event) => {
      if (event.type === 'request' || event.type === 'progress') return;
      log({ msg: `render ${event.type}`, backend: sim.backend, ...event });
    });
  }
  log({ msg: 'renderer simulators ready', urls: all.urls });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log({ msg: 'renderer simulators stopping', signal });
    all.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'error', msg: 'renderer simulators failed to start', error: String(error) })}\n`,
  );
  process.exit(1);
});
