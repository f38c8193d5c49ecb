/**
 * Runs the three renderer simulators as a process (demo, reliability tests that kill the worker).
 * Logs one JSON line per backend with its URL, then one line per render event; stops on
 * SIGINT/SIGTERM. Flags: --duration-ms=N (default render length), --steps=N (progress steps).
 */
import { JsonLogger, stdoutLines } from '../../src/observability/logger';
import { startAllSimulators } from './start-all';

/** Render events are the simulators' output: they go to stdout, start-up failures to stderr. */
const logger = new JsonLogger('INFO', stdoutLines);

function flag(name: string): number | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return undefined;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a non-negative integer`);
  }
  return value;
}

async function main(): Promise<void> {
  const all = await startAllSimulators({
    defaultDurationMs: flag('duration-ms'),
    progressSteps: flag('steps'),
  });
  for (const sim of Object.values(all.simulators)) {
    logger.info('renderer simulator listening', { backend: sim.backend, url: sim.url });
    sim.onEvent((event) => {
      if (event.type === 'request' || event.type === 'progress') return;
      logger.info(`render ${event.type}`, { backend: sim.backend, ...event });
    });
  }
  logger.info('renderer simulators ready', { urls: all.urls });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('renderer simulators stopping', { signal });
    all.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  new JsonLogger().error('renderer simulators failed to start', { error: String(error) });
  process.exit(1);
});
