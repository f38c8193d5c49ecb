/**
 * The Temporal client retries a failed gRPC call on a timer (its retry interceptor). A call still
 * open when its Connection closes, that then fails as the server goes away, schedules a retry that
 * finds the channel shut: grpc-js throws "Channel has been shut down" synchronously inside that
 * timer, outside every await, and the process dies of an uncaught exception. This plugin makes that
 * one case an ordinary failed call instead. Its retry policy is the SDK's, but for refusals of a
 * busy workflow, retried sooner (busy-workflow-retry.ts).
 */
import { makeGrpcRetryInterceptor, type ConnectionPlugin } from '@temporalio/client';
import { Metadata, status as GrpcStatus, type InterceptingListener, type Interceptor } from '@grpc/grpc-js';
import { grpcRetryOptions } from './busy-workflow-retry';

type NextCall = Parameters<Interceptor>[1];
type InterceptingCallInterface = ReturnType<NextCall>;

/**
 * A call on a closed channel: on the next turn it answers no message (as grpc-js does for a unary
 * call that failed; the retry interceptor expects one before a final status) and CANCELLED, which
 * is not retried.
 */
function closedChannelCall(reason: string): InterceptingCallInterface {
  const noop = (): void => undefined;
  return {
    start(_metadata: Metadata, listener?: Partial<InterceptingListener>) {
      setImmediate(() => {
        listener?.onReceiveMessage?.(null);
        listener?.onReceiveStatus?.({
          code: GrpcStatus.CANCELLED,
          details: reason,
          metadata: new Metadata(),
        });
      });
    },
    sendMessage: noop,
    sendMessageWithContext: noop,
    startRead: noop,
    halfClose: noop,
    cancelWithStatus: noop,
    getPeer: () => 'closed',
    setCredentials: noop,
    getAuthContext: () => null,
  } as InterceptingCallInterface;
}

/** What grpc-js throws when a call is made on a channel that was closed. */
const CHANNEL_SHUT_DOWN = 'Channel has been shut down';

function guarded(nextCall: NextCall): NextCall {
  return (options) => {
    try {
      return nextCall(options);
    } catch (err) {
      // Only the closed channel: any other throw is a bug to see, not a call to fail quietly.
      if (!(err instanceof Error) || err.message !== CHANNEL_SHUT_DOWN) throw err;
      return closedChannelCall(err.message);
    }
  };
}

export function retryStopsAtClose(): ConnectionPlugin {
  const retry = makeGrpcRetryInterceptor(grpcRetryOptions());
  const interceptor: Interceptor = (options, nextCall) => retry(options, guarded(nextCall));
  return {
    name: 'retry-stops-at-close',
    configureConnection: (options) => ({
      ...options,
      interceptors: [interceptor, ...(options.interceptors ?? [])],
    }),
  };
}
