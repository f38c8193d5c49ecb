/** Starting a failed or cancelled job again, as a new run of the same workflow id. */
import { WorkflowNotFoundError, defaultPayloadConverter } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { renderJobWorkflowId } from '../shared/constants';
import { RenderJobInputSchema } from '../shared/job-schema';
import type { JobStore } from '../store/job-store';
import { runIntakeOnce } from './intake-sweep';
import { submitJob } from './submit';
import type { SubmitOutcome, SubmitOptions } from './submit';

export type RerunOutcome =
  | { kind: 'restarted'; outcome: SubmitOutcome; generation: number }
  /** A row intake had refused (no workflow ever ran it), fixed by an operator, taken up again. */
  | { kind: 'requeued' }
  | { kind: 'not-retryable'; status: string }
  | { kind: 'not-found' };

const RERUNNABLE_STATUSES = new Set(['FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

export async function rerunJob(
  client: Client,
  jobId: string,
  opts: Pick<SubmitOptions, 'searchAttributes'> & {
    /** The read model: a row intake refused has no workflow to re-run, only a row to re-queue. */
    store?: Pick<JobStore, 'requeueRejectedJob'>;
  } = {},
): Promise<RerunOutcome> {
  const handle = client.workflow.getHandle(renderJobWorkflowId(jobId));
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    if (!opts.store || !(await opts.store.requeueRejectedJob(jobId))) return { kind: 'not-found' };
    // Intake validates the row again now (it was fixed), rather than at the next wake-up or sweep.
    await runIntakeOnce(client);
    return { kind: 'requeued' };
  }
  if (!RERUNNABLE_STATUSES.has(status)) return { kind: 'not-retryable', status };
  // The last run's own input is the job: the same payload, a new generation of sequence numbers.
  const history = await handle.fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const previous = RenderJobInputSchema.parse(
    payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
  );
  const generation = (previous.generation ?? 0) + 1;
  const outcome = await submitJob(
    client,
    {
      id: previous.jobId,
      jobType: previous.jobType,
      priority: previous.priority,
      renderer: previous.renderer,
      payload: previous.payload,
      ...(previous.userId ? { userId: previous.userId } : {}),
    },
    {
      ...(opts.searchAttributes === undefined ? {} : { searchAttributes: opts.searchAttributes }),
      generation,
    },
  );
  return { kind: 'restarted', outcome, generation };
}
