/**
 * Activities around the admission workflow.
 *
 * - Permit requests and releases, run by job workflows as local activities: a request is a
 *   signal-with-start, so a job can always reach admission, even the very first one.
 * - The admission workflow's own housekeeping: reading `job_queue_config`, reconciling permits of
 *   job workflows that closed without running code (terminated, timed out), publishing queue
 *   positions to the read model, and asking jobs to re-register after a fresh start.
 */
import { Context, log as activityLog } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { admissionStartOptions } from '../client/admission';
import { validateQueueConfig } from '../capacity/live-config';
import type { ConfigValidation } from '../capacity/live-config';
import { AdmissionQueue } from '../shared/admission-queue';
import type { PermitRequest } from '../shared/admission-queue';
import { estimateAdmissionQueue } from '../shared/admission-estimate';
import {
  admissionRestartedSignal,
  admissionSnapshotQuery,
  permitReleaseSignal,
  permitRequestSignal,
} from '../shared/admission-messages';
import type { PermitRelease } from '../shared/admission-messages';
import {
  ADMISSION_WORKFLOW_ID,
  TERMINAL_STATUSES,
  WORKFLOW_TYPE,
  jobIdFromWorkflowId,
  renderJobWorkflowId,
} from '../shared/constants';
import type { JobStore } from '../store/job-store';
import { withTimeout } from '../util/with-timeout';

const SEQ_PER_GENERATION = 1_000_000;
const QUERY_TIMEOUT_MS = 10_000;

export interface PermitActivityDeps {
  client: Client;
}

/** Local activities of job workflows: a request or release is one signal, no task queue hop. */
export function createPermitActivities({ client }: PermitActivityDeps) {
  return {
    async requestPermit(request: PermitRequest): Promise<void> {
      await client.workflow.signalWithStart('renderAdmission', {
        ...admissionStartOptions(),
        signal: permitRequestSignal,
        signalArgs: [request],
      });
    },

    async releasePermit(release: PermitRelease): Promise<void> {
      try {
        await client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(permitReleaseSignal, release);
      } catch (err) {
        // No admission workflow: it holds nothing of ours to give back.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },
  };
}

export type PermitActivities = ReturnType<typeof createPermitActivities>;

export interface AdmissionActivityDeps {
  client: Client;
  store: JobStore;
}

export interface ReconcileInput {
  /** Job ids holding a permit now: each is checked directly. */
  holders: string[];
  /** Epoch ms: job workflows closed abnormally since then are looked up in visibility. */
  closedSince: number;
}

export interface ReconcileResult {
  /** Jobs whose workflow no longer runs: their permits and places are to be forgotten. */
  closed: string[];
  /** Epoch ms the check started; the next one looks back from here (with an overlap). */
  checkedAt: number;
  /** False when the server has no visibility store (the time-skipping test server). */
  visibility: boolean;
}

export interface PublishResult {
  /** The admission state version that was published. */
  version: number;
  /** Rows whose position or estimate changed. */
  written: number;
  /** Waiting jobs with no row yet (their first sync has not landed): publish again soon. */
  missing: number;
}

const ABNORMAL_CLOSE = `WorkflowType = '${WORKFLOW_TYPE.renderJob}' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut')`;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createAdmissionActivities({ client, store }: AdmissionActivityDeps) {
  /** The reason an abnormally closed run ended, as its close event says. */
  async function closeReason(workflowId: string, runId: string, status: string): Promise<string> {
    if (status !== 'TERMINATED') return 'the job workflow timed out (its run timeout passed)';
    try {
      const { history } = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId, runId },
        historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
      });
      const reason = history?.events?.[0]?.workflowExecutionTerminatedEventAttributes?.reason;
      return `the job workflow was terminated${reason ? `: ${reason}` : ''}`;
    } catch {
      return 'the job workflow was terminated';
    }
  }

  /**
   * A job whose workflow closed without running code never wrote its end: write it now, as the
   * last word of that run (the highest sequence number of its generation), unless a later run
   * exists or the row already ended.
   */
  async function recordAbnormalEnd(jobId: string, workflowId: string, reason: string): Promise<void> {
    const row = await store.getJob(jobId);
    if (!row || TERMINAL_STATUSES.includes(row.status)) return;
    const generation = Math.floor(row.syncSeq / SEQ_PER_GENERATION);
    await store.applyTransition({
      jobId,
      seq: generation * SEQ_PER_GENERATION + SEQ_PER_GENERATION - 1,
      status: 'failed',
      workflowId,
      attempt: row.startedAt ? row.retryCount + 1 : 0,
      progress: null,
      error: reason,
      result: null,
      startedAt: null,
      completedAt: new Date().toISOString(),
    });
    activityLog.warn('job workflow closed without finishing; row failed', { jobId, workflowId, reason });
  }

  /** True when the latest run of the job's workflow is still running (a re-run or a reset). */
  async function stillRunning(workflowId: string): Promise<boolean> {
    try {
      return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  return {
    /** Run as a local activity of the admission workflow: the config row, validated. */
    async readAdmissionConfig(): Promise<ConfigValidation> {
      return validateQueueConfig(await store.readQueueConfig());
    },

    async reconcileAdmission(input: ReconcileInput): Promise<ReconcileResult> {
      const checkedAt = Date.now();
      const closed = new Set<string>();
      for (const jobId of input.holders) {
        if (!(await stillRunning(renderJobWorkflowId(jobId)))) closed.add(jobId);
      }
      let visibility = true;
      const since = new Date(input.closedSince).toISOString();
      try {
        const query = `${ABNORMAL_CLOSE} AND CloseTime >= '${since}'`;
        for await (const run of client.workflow.list({ query })) {
          const jobId = jobIdFromWorkflowId(run.workflowId);
          if (!jobId || (await stillRunning(run.workflowId))) continue;
          closed.add(jobId);
          await recordAbnormalEnd(jobId, run.workflowId, await closeReason(run.workflowId, run.runId, run.status.name));
          Context.current().heartbeat();
        }
      } catch (err) {
        visibility = false;
        activityLog.debug('visibility unavailable; holders were checked directly', { error: messageOf(err) });
      }
      return { closed: [...closed], checkedAt, visibility };
    },

    /**
     * Reads the admission queue (a query, so nothing of it enters any history) and writes
     * positions and estimated starts of every waiting job. Waits `delayMs` first, so a burst of
     * changes is published once.
     */
    async publishQueuePositions(input: { delayMs: number }): Promise<PublishResult> {
      if (input.delayMs > 0) await Context.current().sleep(Math.min(input.delayMs, QUERY_TIMEOUT_MS));
      const snapshot = await withTimeout(
        client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery),
        QUERY_TIMEOUT_MS,
        `admission snapshot query timed out after ${QUERY_TIMEOUT_MS} ms`,
      );
      const estimates = estimateAdmissionQueue(
        AdmissionQueue.decode(snapshot.queue),
        snapshot.caps,
        snapshot.durations,
        Date.now(),
      );
      const outcome = await store.publishQueuePositions(
        estimates.map((e) => ({
          jobId: e.jobId,
          position: e.position,
          estimatedStartAt: new Date(e.estimatedStartAt).toISOString(),
        })),
      );
      return { version: snapshot.version, ...outcome };
    },

    /** After a fresh start: every running job is asked to re-register (waiting or holding). */
    async announceAdmissionRestart(): Promise<{ signalled: number; visibility: boolean }> {
      let signalled = 0;
      try {
        const query = `WorkflowType = '${WORKFLOW_TYPE.renderJob}' AND ExecutionStatus = 'Running'`;
        for await (const run of client.workflow.list({ query })) {
          try {
            await client.workflow.getHandle(run.workflowId).signal(admissionRestartedSignal);
            signalled += 1;
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }
          if (signalled % 50 === 0) Context.current().heartbeat(signalled);
        }
      } catch (err) {
        activityLog.warn('could not list running jobs after an admission restart', { error: messageOf(err) });
        return { signalled, visibility: false };
      }
      return { signalled, visibility: true };
    },
  };
}

export type AdmissionActivities = ReturnType<typeof createAdmissionActivities>;
