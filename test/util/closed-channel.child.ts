/**
 * Child process for retry-stops-at-close.test.ts: a long poll is open on a client Connection, the
 * Connection closes, then the server goes away. Prints one JSON line with how the poll ended; with
 * the SDK's default retry the process dies instead ("Channel has been shut down" in a timer).
 */
import { Client, Connection } from '@temporalio/client';
import { retryStopsAtClose } from '../../src/util/retry-stops-at-close';
import { devServerEnv } from '../../dev/temporal';

async function main(): Promise<void> {
  const guarded = process.argv[2] === 'guarded';
  const env = await devServerEnv();
  const connection = await Connection.connect({
    address: env.address,
    plugins: guarded ? [retryStopsAtClose()] : [],
  });
  const client = new Client({ connection });
  // No worker polls this queue: the workflow stays open and result() long-polls its history.
  const handle = await client.workflow.start('neverRuns', {
    taskQueue: 'nobody',
    workflowId: 'closed-channel',
  });
  const poll = handle.result().then(
    () => ({ ended: 'completed' }),
    (err: unknown) => ({
      ended: 'failed',
      error: err instanceof Error ? err.message.split('\n')[0] : String(err),
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await connection.close();
  await env.teardown();
  const ended = await poll;
  // A call made after the close: refused like any failed call, not thrown inside a timer.
  const afterClose = await handle.describe().then(
    () => 'answered',
    (err: unknown) => (err instanceof Error ? err.message.split('\n')[0] : String(err)),
  );
  process.stdout.write(`${JSON.stringify({ ...ended, afterClose })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(3);
});
