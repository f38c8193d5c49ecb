/**
 * Reaching the admission workflow from outside it: making sure it runs (every worker at start-up,
 * and any permit request). Asking it where a job stands is src/jobs/admission.ts.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { GroupCommit } from '../util/group-commit';
import {
  ADMISSION_REQUEST_BATCHING,
  ADMISSION_REQUEST_TIMEOUT_MS,
  ADMISSION_WORKFLOW_ID,
  PRIORITY_KEY,
  SERVICE_WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
} from '../shared/constants';
import { permitRequestSignal, permitRequestsSignal } from '../shared/admission-messages';
import type { PermitRequest } from '../shared/admission-queue';
import type { AdmissionInput, AdmissionOptions } from '../workflows/admission';
import type { renderAdmission } from '../workflows/admission';

/** Start options shared by the start at worker start-up and the signal-with-start of a request. */
export function admissionStartOptions(options?: AdmissionOptions) {
  const input: AdmissionInput = { version: 1, ...(options ? { options } : {}) };
  return {
    workflowId: ADMISSION_WORKFLOW_ID,
    taskQueue: SERVICE_WORKFLOW_TASK_QUEUE,
    args: [input] as [AdmissionInput],
    // Its workflow tasks gate every render start: first in line wherever tasks queue up.
    priority: { priorityKey: PRIORITY_KEY.high },
    staticSummary: 'render queue admission: queue order and fleet-wide caps',
  };
}

/**
 * Starts the admission workflow unless it runs already. Safe from any number of workers at once:
 * the id is well known, so exactly one run exists.
 */
export async function ensureAdmission(client: Client, options?: AdmissionOptions): Promise<void> {
  try {
    await client.workflow.start<typeof renderAdmission>(WORKFLOW_TYPE.admission, {
      ...admissionStartOptions(options),
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  } catch (err) {
    // Servers without conflict policies (the time-skipping test server) answer "already started".
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}

/** One signal-with-start of a batch of requests: a lone request keeps its own signal. */
async function sendRequests(client: Client, requests: PermitRequest[]): Promise<void> {
  // A context of its own: the batch must not end with the activity that happened to start it.
  await client.withAbortSignal(new AbortController().signal, () =>
    client.withDeadline(Date.now() + ADMISSION_REQUEST_TIMEOUT_MS, () =>
      requests.length === 1
        ? client.workflow.signalWithStart<typeof renderAdmission, [PermitRequest]>(WORKFLOW_TYPE.admission, {
            ...admissionStartOptions(),
            signal: permitRequestSignal,
            signalArgs: [requests[0]!],
          })
        : client.workflow.signalWithStart<typeof renderAdmission, [PermitRequest[]]>(
            WORKFLOW_TYPE.admission,
            {
              ...admissionStartOptions(),
              signal: permitRequestsSignal,
              signalArgs: [requests],
            },
          ),
    ),
  );
}

const requestBatches = new WeakMap<Client, GroupCommit<PermitRequest>>();

/**
 * Puts a job in admission's queue: a signal-with-start, so admission is started if it is not
 * running. The job's place is its acceptance time (its workflow's start), carried in the request.
 *
 * Requests of one process are group-committed (util/group-commit.ts): under a burst, admission's
 * one workflow takes one signal per batch instead of one per job. With one signal per job, the
 * admission benchmark's 10,000-job burst left signal-with-starts waiting on admission's workflow
 * for seconds each (its worker logged them failing at the 15 s deadline).
 */
export function requestAdmission(
  client: Client,
  request: PermitRequest,
  signal?: AbortSignal,
): Promise<void> {
  let batches = requestBatches.get(client);
  if (!batches) {
    batches = new GroupCommit({
      send: (requests) => sendRequests(client, requests),
      maxInFlight: ADMISSION_REQUEST_BATCHING.maxInFlight,
      maxBatch: ADMISSION_REQUEST_BATCHING.maxBatch,
    });
    requestBatches.set(client, batches);
  }
  return batches.add(request, signal);
}
