/**
 * Reaching the admission workflow from outside it: making sure it runs (every worker at start-up,
 * and any permit request). Asking it where a job stands is src/jobs/admission.ts.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import {
  ADMISSION_WORKFLOW_ID,
  PRIORITY_KEY,
  SERVICE_WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
} from '../shared/constants';
import { permitRequestSignal } from '../shared/admission-messages';
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

/**
 * Puts a job in admission's queue: a signal-with-start, so admission is started if it is not
 * running. Admission stamps the job with the time the request arrives: that is when the job is
 * accepted, and the order it is served in.
 */
export async function requestAdmission(client: Client, request: PermitRequest): Promise<void> {
  await client.workflow.signalWithStart<typeof renderAdmission, [PermitRequest]>(WORKFLOW_TYPE.admission, {
    ...admissionStartOptions(),
    signal: permitRequestSignal,
    signalArgs: [request],
  });
}
