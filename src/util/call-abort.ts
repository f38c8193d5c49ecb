import type { Client } from '@temporalio/client';

/** Runs one client call under the scope's cancellation. */
export type AbortableCall = <R>(call: () => Promise<R>) => Promise<R>;

/**
 * Runs `body`, whose client calls (made through the `call` it is given) end when `signal` aborts
 * (an activity's cancellation), each on an abort signal of its own. The Temporal client adds one
 * abort listener per call to the signal it runs under and never removes it, so many calls under
 * an activity's own signal pile listeners up: Node warns of a leak past ten (a grant batch sends
 * sixteen at once), and each listener keeps its finished call alive until the activity ends. Here
 * `signal` gets one listener for the whole scope, removed when `body` ends; a call still in flight
 * then is cancelled, and `call` refuses new ones, so nothing outlives the activity's cancellation.
 */
export async function withAbortableCalls<T>(
  client: Client,
  signal: AbortSignal,
  body: (call: AbortableCall) => Promise<T>,
): Promise<T> {
  const inFlight = new Set<AbortController>();
  let closed = false;
  const abortAll = (reason: unknown): void => inFlight.forEach((controller) => controller.abort(reason));
  const onAbort = (): void => abortAll(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const call: AbortableCall = async (fn) => {
    // The client only listens for an abort to come: a signal aborted already would not stop the call.
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    if (closed) throw new Error('call made after its scope ended');
    const own = new AbortController();
    inFlight.add(own);
    try {
      return await client.withAbortSignal(own.signal, fn);
    } finally {
      inFlight.delete(own);
    }
  };
  try {
    return await body(call);
  } finally {
    closed = true;
    signal.removeEventListener('abort', onAbort);
    abortAll(new Error('the calls outlived their scope'));
  }
}
