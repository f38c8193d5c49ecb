/**
 * The operator's actions on one job, through the same library functions as the CLI (cancelJob,
 * rerunJob, changeJobPriority): the page can do nothing the CLI could not. Input is checked with
 * zod before anything is sent, and a refusal names the field.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { rerunJob } from '../jobs/rerun';
import { cancelJob, changeJobPriority } from '../jobs/submit';
import { PrioritySchema, describeZodError } from '../shared/job-schema';
import type { JobStore } from '../store/job-store';

export const ACTIONS = ['cancel', 'retry', 'priority'] as const;
export type ActionName = (typeof ACTIONS)[number];

/** Bad input: nothing was done. The message names the field. */
export class ActionInputError extends Error {
  override name = 'ActionInputError';
}

const JobIdSchema = z.uuid({ message: 'must be a uuid' });
const BODIES = {
  cancel: z.object({}).strict(),
  retry: z.object({}).strict(),
  priority: z.object({ priority: PrioritySchema }).strict(),
} as const;

export interface ActionRequest {
  action: ActionName;
  jobId: string;
  priority?: z.infer<typeof PrioritySchema>;
}

/** Checks an action's input; throws ActionInputError naming the field. */
export function parseAction(action: string, jobId: string, body: unknown): ActionRequest {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new ActionInputError(`action: expected one of ${ACTIONS.join(', ')}`);
  }
  const id = JobIdSchema.safeParse(jobId);
  if (!id.success) throw new ActionInputError(`jobId: must be a uuid`);
  const parsed = BODIES[action as ActionName].safeParse(body ?? {});
  if (!parsed.success) throw new ActionInputError(describeZodError(parsed.error));
  return { action: action as ActionName, jobId: id.data, ...parsed.data };
}

export interface ActionOutcome {
  /** HTTP status: 200 done, 404 no such job, 409 the job's state does not allow it. */
  status: 200 | 404 | 409;
  outcome: string;
  message: string;
}

export async function runAction(
  client: Client,
  request: ActionRequest,
  /** The read model, when the page has one: a row intake refused (and an operator fixed) can be re-run. */
  store?: Pick<JobStore, 'requeueRejectedJob'>,
): Promise<ActionOutcome> {
  const { jobId } = request;
  const notFound: ActionOutcome = { status: 404, outcome: 'not-found', message: `job ${jobId} not found` };
  switch (request.action) {
    case 'cancel': {
      const outcome = await cancelJob(client, jobId);
      if (outcome === 'not-found') return notFound;
      return outcome === 'cancelled'
        ? { status: 200, outcome, message: `cancellation requested for ${jobId}` }
        : { status: 409, outcome, message: `job ${jobId} has already finished; nothing to cancel` };
    }
    case 'retry': {
      const result = await rerunJob(client, jobId, store ? { store } : {});
      if (result.kind === 'not-found') return notFound;
      if (result.kind === 'restarted') {
        return {
          status: 200,
          outcome: 'restarted',
          message: `job ${jobId} started again (run ${result.generation + 1})`,
        };
      }
      if (result.kind === 'requeued') {
        return {
          status: 200,
          outcome: 'requeued',
          message: `job ${jobId} queued again: intake validates it anew`,
        };
      }
      return {
        status: 409,
        outcome: 'not-retryable',
        message: `job ${jobId} is ${result.status.toLowerCase()}; only failed or cancelled jobs can be re-run`,
      };
    }
    case 'priority': {
      const outcome = await changeJobPriority(client, jobId, request.priority);
      if (outcome === 'not-found') return notFound;
      return outcome === 'changed'
        ? { status: 200, outcome, message: `job ${jobId} moved to ${request.priority} priority` }
        : {
            status: 409,
            outcome,
            message: `job ${jobId} has already finished; its priority no longer matters`,
          };
    }
  }
}
