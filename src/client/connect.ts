/** Connections to Temporal with a bounded wait and one clear line when the server is not there. */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

const CONNECT_TIMEOUT_MS = 5_000;

export async function connectClient(address: string, namespace: string, timeoutMs = CONNECT_TIMEOUT_MS) {
  try {
    const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    return { connection, client: new Client({ connection, namespace }) };
  } catch (err) {
    throw unreachable(address, err);
  }
}

export async function connectWorker(
  address: string,
  timeoutMs = CONNECT_TIMEOUT_MS,
): Promise<NativeConnection> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      NativeConnection.connect({ address }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw unreachable(address, err);
  } finally {
    clearTimeout(timer);
  }
}

function unreachable(address: string, err: unknown): UnreachableError {
  const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new UnreachableError(`cannot reach Temporal at ${address}: ${reason}`);
}
