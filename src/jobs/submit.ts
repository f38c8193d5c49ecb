/**
 * Starting, inspecting and cancelling render jobs: the library behind the CLI, the intake
 * workflow's activity, the demo and the tests.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Client, WorkflowExecutionDescription, WorkflowStartOptions } from '@temporalio/client';
import { PRIORITY_KEY, WORKFLOW_TASK_QUEUE, WORKFLOW_TYPE, renderJobWorkflowId } from '../shared/constants';
import {
  JobSubmissionSchema,
  PrioritySchema,
  describeZodError,
  toRenderJobInput,
} from '../shared/job-schema';
import type { RenderJobInput } from '../shared/job-schema';
import type { renderJob } from '../workflows/render-job';
import { changePrioritySignal, jobStateQuery } from '../shared/messages';
import { RenderHeartbeatDetailsSchema } from '../renderers/contract';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { JobState } from '../shared/messages';
import { withTimeout } from '../util/with-timeout';

/** Bad input from a submitter: the message names the field. Nothing was started. */
export class InvalidSubmissionError extends Error {
  override name = 'InvalidSubmissionError';
}

export interface SubmitOutcome {
  jobId: string;
  workflowId: string;
  /** False when a workflow for this job already existed: nothing new was started. */
  started: boolean;
  input: RenderJobInput;
}

export function validateSubmission(raw: unknown): RenderJobInput {
  const parsed = JobSubmissionSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidSubmissionError(describeZodError(parsed.error));
  return toRenderJobInput(parsed.data, randomUUID);
}

export interface SubmitOptions {
  /** The run generation; the retry command starts a failed job again as generation 1, 2, ... */
  generation?: number;
  /**
   * Set the JobId/JobType/Priority/Renderer/RenderStatus search attributes (default). Off only
   * for servers that can't register custom attributes (the time-skipping test server).
   */
  searchAttributes?: boolean;
}

export async function submitJob(
  client: Client,
  raw: unknown,
  opts: SubmitOptions = {},
): Promise<SubmitOutcome> {
  const input = validateSubmission(raw);
  if (opts.generation) input.generation = opts.generation;
  const workflowId = renderJobWorkflowId(input.jobId);
  const options: WorkflowStartOptions<typeof renderJob> = {
    workflowId,
    taskQueue: WORKFLOW_TASK_QUEUE[input.priority],
    args: [input],
    // Native priority orders this job's workflow and render tasks on the server; activities inherit it.
    priority: { priorityKey: PRIORITY_KEY[input.priority] },
    // A second submit of the same job id must not render it again, even after it finished.
    workflowIdReusePolicy: opts.generation ? 'ALLOW_DUPLICATE_FAILED_ONLY' : 'REJECT_DUPLICATE',
    staticSummary: `${input.jobType} via ${input.renderer} (${input.priority})`,
  };
  try {
    await client.workflow.start<typeof renderJob>(WORKFLOW_TYPE.renderJob, {
      ...options,
      // Filterable in the Web UI from the first moment; the workflow keeps RenderStatus current.
      ...(opts.searchAttributes === false
        ? {}
        : {
            typedSearchAttributes: [
              { key: SEARCH_ATTRIBUTES.jobId, value: input.jobId },
              { key: SEARCH_ATTRIBUTES.jobType, value: input.jobType },
              { key: SEARCH_ATTRIBUTES.priority, value: input.priority },
              { key: SEARCH_ATTRIBUTES.renderer, value: input.renderer },
              { key: SEARCH_ATTRIBUTES.renderStatus, value: 'queued' },
            ],
          }),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { jobId: input.jobId, workflowId, started: false, input };
    }
    throw err;
  }
  // The job joins admission's queue in its first workflow task, in the place its start gives it.
  return { jobId: input.jobId, workflowId, started: true, input };
}

export interface JobStatusView {
  jobId: string;
  workflowId: string;
  /** Temporal's view: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT... */
  execution: WorkflowExecutionDescription['status']['name'];
  state: JobState | null;
}

/** Live state from the workflow when a worker answers the query within `queryTimeoutMs`. */
export async function getJobStatus(
  client: Client,
  jobId: string,
  opts: { queryTimeoutMs?: number } = {},
): Promise<JobStatusView | null> {
  const workflowId = renderJobWorkflowId(jobId);
  const handle = client.workflow.getHandle(workflowId);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
  let state: JobState | null = null;
  try {
    state = await withTimeout(
      handle.query(jobStateQuery),
      opts.queryTimeoutMs ?? 5000,
      'status query timed out',
    );
  } catch {
    state = null; // no worker answering right now: the read model still has the last state
  }
  if (state?.status === 'processing') {
    const progress = renderProgressOf(client, description, state.attempt);
    if (progress !== undefined) state = { ...state, progress };
  }
  return { jobId, workflowId, execution: description.status.name, state };
}

/**
 * A running attempt's progress lives in its render activity's heartbeat, not in the workflow
 * (progress events would cost the workflow a task each), so the server's description has it.
 */
function renderProgressOf(
  client: Client,
  description: WorkflowExecutionDescription,
  attempt: number,
): number | null | undefined {
  for (const activity of description.raw.pendingActivities ?? []) {
    if (activity.activityType?.name !== 'render') continue;
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    const details = RenderHeartbeatDetailsSchema.safeParse(
      client.options.loadedDataConverter.payloadConverter.fromPayload(payload),
    );
    if (details.success && details.data.attempt === attempt) return details.data.progress;
  }
  return undefined;
}

/**
 * Moves a running job to another priority. A job still waiting for a permit moves in admission's
 * order at once (keeping its acceptance time); a running one keeps its slot, and a later attempt
 * asks with the new priority. Bad input throws InvalidSubmissionError naming the field.
 */
export async function changeJobPriority(
  client: Client,
  jobId: string,
  priority: unknown,
): Promise<'changed' | 'not-running' | 'not-found'> {
  const parsed = PrioritySchema.safeParse(priority);
  if (!parsed.success) throw new InvalidSubmissionError(`priority: ${describeZodError(parsed.error)}`);
  const handle = client.workflow.getHandle(renderJobWorkflowId(jobId));
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return 'not-running';
    await handle.signal(changePrioritySignal, { priority: parsed.data });
    return 'changed';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'not-found';
    throw err;
  }
}

export async function cancelJob(
  client: Client,
  jobId: string,
): Promise<'cancelled' | 'not-running' | 'not-found'> {
  const handle = client.workflow.getHandle(renderJobWorkflowId(jobId));
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return 'not-running';
    await handle.cancel();
    return 'cancelled';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'not-found';
    throw err;
  }
}
