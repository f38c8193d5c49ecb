/** Turns an activity failure into the sentence a person sees in the job's `error` column. */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

export function describeRenderFailure(
  err: unknown,
  timeoutMinutes: number,
  heartbeatSeconds: number,
): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) {
    switch (cause.timeoutType) {
      case 'HEARTBEAT':
        return `render stopped reporting progress (no heartbeat for ${heartbeatSeconds} s): the worker or the renderer hung or crashed`;
      case 'START_TO_CLOSE':
        return `render timed out after ${timeoutMinutes} minutes`;
      default:
        return `render timed out (${cause.timeoutType ?? 'unknown timeout'})`;
    }
  }
  if (cause instanceof ApplicationFailure) {
    return cause.type ? `${cause.type}: ${cause.message}` : cause.message;
  }
  if (cause instanceof Error) return cause.message;
  return String(cause);
}
