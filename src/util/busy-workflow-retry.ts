/**
 * The Temporal client's retry policy for gRPC calls, with one case retried sooner: a call the server
 * refused because its workflow is busy (`RESOURCE_EXHAUSTED`, cause `BUSY_WORKFLOW`).
 *
 * The server refuses every signal to a workflow that tried to close or continue as new while a
 * signal was arriving (it fails that workflow task, the worker replays the run's whole history to
 * take the signal in, and only then may the run close). Admission continues as new every few
 * thousand events under a steady stream of requests and releases, so this happens at most of its
 * continue-as-new. The SDK's policy backs off from any `RESOURCE_EXHAUSTED` as from a rate limit:
 * 1.7 s, then 2.9 s, then 4.9 s. A permit request refused during a 4-second replay therefore
 * landed 4.6 or 9.5 s after it was sent, and every request batched behind it waited as long: the
 * pick-up stalls of seconds the latency benchmark showed (docs/ARCHITECTURE.md, "A signal that races the
 * continue-as-new"). A busy workflow is one workflow's lock, not the namespace's budget, so such
 * calls are retried every few hundred milliseconds and land right after the run has moved on.
 * Everything else keeps the SDK's policy.
 */
import { defaultGrpcRetryOptions, type GrpcRetryOptions } from '@temporalio/client';
import { google, temporal } from '@temporalio/proto';
import { status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';

/** Retries of a busy-workflow refusal: from 100 ms, growing to at most 250 ms, for about 30 s. */
export const BUSY_WORKFLOW_RETRY = { initialMs: 100, factor: 1.5, maxMs: 250, maxAttempts: 120 } as const;

const RESOURCE_EXHAUSTED_FAILURE = 'temporal.api.errordetails.v1.ResourceExhaustedFailure';
const { RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW } = temporal.api.enums.v1.ResourceExhaustedCause;

/** A refusal because the workflow is busy (closing, or its lock held), read from the status details. */
export function isBusyWorkflow(status: Pick<StatusObject, 'code' | 'metadata'>): boolean {
  if (status.code !== GrpcStatus.RESOURCE_EXHAUSTED) return false;
  const raw = status.metadata?.get('grpc-status-details-bin')[0];
  if (!raw || typeof raw === 'string') return false;
  try {
    return google.rpc.Status.decode(raw).details.some(
      (detail) =>
        detail.type_url?.replace(/^type\.googleapis\.com\//, '') === RESOURCE_EXHAUSTED_FAILURE &&
        !!detail.value &&
        temporal.api.errordetails.v1.ResourceExhaustedFailure.decode(detail.value).cause ===
          RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW,
    );
  } catch {
    // Details we cannot read: the SDK's policy decides.
    return false;
  }
}

export function grpcRetryOptions(): GrpcRetryOptions {
  const sdk = defaultGrpcRetryOptions();
  return {
    delayFunction(attempt, status) {
      if (!isBusyWorkflow(status)) return sdk.delayFunction(attempt, status);
      const { initialMs, factor, maxMs } = BUSY_WORKFLOW_RETRY;
      // Jitter of ±20% keeps the refused senders of one moment apart.
      return Math.min(maxMs, initialMs * factor ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
    },
    retryableDecider(attempt, status) {
      if (isBusyWorkflow(status)) return attempt < BUSY_WORKFLOW_RETRY.maxAttempts;
      return sdk.retryableDecider(attempt, status);
    },
  };
}
