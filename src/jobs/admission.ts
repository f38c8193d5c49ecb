/** Asking the admission workflow where a job stands (`render-queue status`). */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { ADMISSION_WORKFLOW_ID } from '../shared/constants';
import { jobAdmissionQuery } from '../shared/admission-messages';
import type { JobAdmission } from '../shared/admission-messages';
import { withTimeout } from '../util/with-timeout';

/** Where a job stands in the queue right now; `unknown` when admission does not know it. */
export async function getJobAdmission(
  client: Client,
  jobId: string,
  timeoutMs = 5000,
): Promise<JobAdmission | null> {
  try {
    return await withTimeout(
      client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(jobAdmissionQuery, jobId),
      timeoutMs,
      'admission query timed out',
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}
