/** Connections to Temporal with a bounded wait and one clear line when the server is not there. */
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { errorFirstLine } from '../shared/error-message';
import { retryStopsAtClose } from '../util/retry-stops-at-close';
import { withTimeout } from '../util/with-timeout';

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

const CONNECT_TIMEOUT_MS = 5_000;

export async function connectClient(address: string, namespace: string, timeoutMs = CONNECT_TIMEOUT_MS) {
  try {
    const connection = await Connection.connect({
      address,
      connectTimeout: timeoutMs,
      plugins: [retryStopsAtClose()],
    });
    return { connection, client: new Client({ connection, namespace }) };
  } catch (err) {
    throw unreachable(address, err);
  }
}

/** The worker's connection; its module (the Rust core) loads here, so the CLI never loads it. */
export async function connectWorker(
  address: string,
  timeoutMs = CONNECT_TIMEOUT_MS,
): Promise<NativeConnection> {
  try {
    const { NativeConnection } = await import('@temporalio/worker');
    return await withTimeout(
      NativeConnection.connect({ address }),
      timeoutMs,
      `no answer within ${timeoutMs} ms`,
    );
  } catch (err) {
    throw unreachable(address, err);
  }
}

function unreachable(address: string, err: unknown): UnreachableError {
  return new UnreachableError(`cannot reach Temporal at ${address}: ${errorFirstLine(err)}`);
}
