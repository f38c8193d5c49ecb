/**
 * Activities around the admission workflow.
 *
 * - Permit requests and releases, run by job workflows as activities on the sync queue: a request is a
 *   signal-with-start, so a job can always reach admission, even the very first one.
 * - The admission workflow's own housekeeping: reading `job_queue_config`, reconciling permits of
 *   job workflows that closed without running code (terminated, timed out), publishing queue
 *   positions to the read model, and asking jobs to re-register after a fresh start.
 */
import { Context, log as activityLog } from '@temporalio/activity';
import { WorkflowNotFoundError, defaultPayloadConverter } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { admissionStartOptions, requestAdmission } from './admission-client';
import { validateQueueConfig } from '../capacity/live-config';
import type { ConfigValidation } from '../capacity/live-config';
import { AdmissionQueue } from '../shared/admission-queue';
import type { PermitRequest } from '../shared/admission-queue';
import { estimateAdmissionQueue } from '../shared/admission-estimate';
import {
  admissionRestartedSignal,
  admissionSnapshotQuery,
  grantsUndeliveredSignal,
  permitGrantedSignal,
  permitReleaseSignal,
  reprioritizeSignal,
} from '../shared/admission-messages';
import type {
  GrantToDeliver,
  PermitRelease,
  Reprioritize,
  UndeliveredGrant,
} from '../shared/admission-messages';
import {
  TERMINAL_STATUSES,
  WORKFLOW_TYPE,
  ADMISSION_WORKFLOW_ID,
  jobIdFromWorkflowId,
  renderJobWorkflowId,
} from '../shared/constants';
import type { Renderer } from '../shared/constants';
import type { renderAdmission } from '../workflows/admission';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { JobStore } from '../store/job-store';
import type { RendererAdapter } from '../renderers/http-client';
import type { RenderJobInput } from '../shared/job-schema';
import type { RenderProgress } from '../shared/messages';
import { READ_MODEL_SEQ, generationOfSeq, generationSeqBase } from '../shared/read-model-seq';
import { withTimeout } from '../util/with-timeout';
import { withAbortableCalls } from '../util/call-abort';
import type { AbortableCall } from '../util/call-abort';
import { forEachConcurrently } from '../util/for-each-concurrently';
import { errorMessage } from '../shared/error-message';

const QUERY_TIMEOUT_MS = 10_000;
/** Grants signalled at once by one delivery. */
const GRANT_CONCURRENCY = 16;
/** One grant's signal; past it the batch is retried (inside the local activity's 30 s, workflows/admission.ts). */
const GRANT_SIGNAL_TIMEOUT_MS = 10_000;

export interface GrantDelivery {
  /** Grants whose job workflow no longer runs. */
  undelivered: UndeliveredGrant[];
}

export interface PermitActivityDeps {
  client: Client;
}

/** Signals each grant to its job; returns the grants whose job workflow no longer runs. */
async function signalGrants(client: Client, grants: GrantToDeliver[]): Promise<UndeliveredGrant[]> {
  const undelivered: UndeliveredGrant[] = [];
  await withAbortableCalls(client, Context.current().cancellationSignal, (call) =>
    forEachConcurrently(grants, GRANT_CONCURRENCY, async ({ jobId, delivery, ...grant }) => {
      try {
        await call(() =>
          client.withDeadline(Date.now() + GRANT_SIGNAL_TIMEOUT_MS, () =>
            client.workflow.getHandle(renderJobWorkflowId(jobId)).signal(permitGrantedSignal, grant),
          ),
        );
      } catch (err) {
        // Anything but "no such workflow" is Temporal being unreachable or slow: retry the
        // batch (a repeated grant is ignored by its job).
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        undelivered.push({
          jobId,
          attempt: grant.attempt,
          ...(delivery !== undefined ? { delivery } : {}),
          error: messageOf(err),
        });
      }
    }),
  );
  return undelivered;
}

/** A job's permit calls (activities on the sync queue) and admission's grant delivery (a local activity): each one signal. */
export function createPermitActivities({ client }: PermitActivityDeps) {
  return {
    async requestPermit(request: PermitRequest): Promise<void> {
      await requestAdmission(client, request, Context.current().cancellationSignal);
    },

    async reprioritizePermit(change: Reprioritize): Promise<void> {
      await client.withAbortSignal(Context.current().cancellationSignal, () =>
        client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(reprioritizeSignal, change),
      );
    },

    /**
     * Admission's grants, as one local activity of its workflow task: one signal per job, sent
     * from here instead of as commands, so a grant costs admission's history one marker per batch
     * instead of two events per job (and no workflow task of its own when it lands). A job whose
     * workflow has closed is reported back in the result: its permit is reclaimed. Runs before
     * the admission-replay-order patch.
     */
    async deliverGrants(grants: GrantToDeliver[]): Promise<GrantDelivery> {
      return { undelivered: await signalGrants(client, grants) };
    },

    /**
     * The same delivery, reporting grants that found no running job by a signal to admission
     * (`grantsUndelivered`) before it completes, and nothing in its result (why: the comment on
     * `deliverGrants` in workflows/admission.ts).
     */
    async deliverGrantsReportingUndelivered(grants: GrantToDeliver[]): Promise<void> {
      const undelivered = await signalGrants(client, grants);
      if (undelivered.length === 0) return;
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? ADMISSION_WORKFLOW_ID;
      // Failing here retries the whole batch: a repeated grant is ignored by its job.
      await client.withAbortSignal(Context.current().cancellationSignal, () =>
        client.withDeadline(Date.now() + GRANT_SIGNAL_TIMEOUT_MS, () =>
          client.workflow.getHandle(workflowId).signal(grantsUndeliveredSignal, undelivered),
        ),
      );
    },

    // Also a signal-with-start: if admission was terminated, the next release brings it back (and
    // its fresh run asks every running job to re-register), even when no new job is submitted.
    async releasePermit(release: PermitRelease): Promise<void> {
      await client.withAbortSignal(Context.current().cancellationSignal, () =>
        client.workflow.signalWithStart<typeof renderAdmission, [PermitRelease]>(WORKFLOW_TYPE.admission, {
          ...admissionStartOptions(),
          signal: permitReleaseSignal,
          signalArgs: [release],
        }),
      );
    },
  };
}

export type PermitActivities = ReturnType<typeof createPermitActivities>;

export interface AdmissionActivityDeps {
  client: Client;
  store: JobStore;
  /** To stop the render of a holder whose workflow was terminated mid-render. */
  renderers: Record<Renderer, RendererAdapter>;
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
  return errorMessage(err);
}

export function createAdmissionActivities({ client, store, renderers }: AdmissionActivityDeps) {
  const namespace = client.options.namespace;
  /**
   * Temporal calls made for an activity end with it (cancelled, or its worker shutting down).
   * Calls repeated per job go through `call`, one abort signal each (util/call-abort.ts); the
   * rest (a query, list pages) run under the activity's own signal.
   */
  const bounded = <T>(fn: (call: AbortableCall) => Promise<T>): Promise<T> => {
    const signal = Context.current().cancellationSignal;
    return client.withAbortSignal(signal, () => withAbortableCalls(client, signal, fn));
  };
  const decode = (payload: unknown): unknown =>
    payload
      ? defaultPayloadConverter.fromPayload(
          payload as Parameters<typeof defaultPayloadConverter.fromPayload>[0],
        )
      : undefined;

  /**
   * The render a closed run left running, from its history: the renderer from its input and the
   * id its render activity reported last. Read only for runs that closed without running code.
   */
  async function orphanRender(
    workflowId: string,
    runId: string,
    call: AbortableCall,
  ): Promise<{ renderer: Renderer; renderId: string } | undefined> {
    let renderer: Renderer | undefined;
    let renderId: string | undefined;
    const renderActivities = new Set<string>();
    let nextPageToken: Uint8Array | undefined;
    do {
      const pageToken = nextPageToken;
      const page = await call(() =>
        client.workflowService.getWorkflowExecutionHistory({
          namespace,
          execution: { workflowId, runId },
          ...(pageToken ? { nextPageToken: pageToken } : {}),
        }),
      );
      for (const event of page.history?.events ?? []) {
        const started = event.workflowExecutionStartedEventAttributes;
        if (started)
          renderer = (decode(started.input?.payloads?.[0]) as RenderJobInput | undefined)?.renderer;
        const signal = event.workflowExecutionSignaledEventAttributes;
        if (signal?.signalName === 'renderProgress') {
          const update = decode(signal.input?.payloads?.[0]) as RenderProgress | undefined;
          if (update?.phase === 'submitted' && update.renderId) renderId = update.renderId;
        }
        const scheduled = event.activityTaskScheduledEventAttributes;
        if (scheduled?.activityType?.name === 'render') renderActivities.add(String(event.eventId));
        // A render activity that ended took its render with it (finished, failed or told to stop).
        const ended =
          event.activityTaskCompletedEventAttributes ??
          event.activityTaskFailedEventAttributes ??
          event.activityTaskCanceledEventAttributes ??
          event.activityTaskTimedOutEventAttributes;
        if (ended && renderActivities.has(String(ended.scheduledEventId))) renderId = undefined;
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return renderer && renderId ? { renderer, renderId } : undefined;
  }

  /** The reason an abnormally closed run ended, as its close event says. */
  async function closeReason(
    workflowId: string,
    runId: string,
    status: string,
    call: AbortableCall,
  ): Promise<string> {
    if (status !== 'TERMINATED') return 'the job workflow timed out (its run timeout passed)';
    try {
      const { history } = await call(() =>
        client.workflowService.getWorkflowExecutionHistory({
          namespace,
          execution: { workflowId, runId },
          historyEventFilterType:
            temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
        }),
      );
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
    await store.applyTransition({
      jobId,
      seq: generationSeqBase(generationOfSeq(row.syncSeq)) + READ_MODEL_SEQ.closedByAdmission,
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

  /** The latest run of a job's workflow (a re-run or a reset makes a newer one); undefined if none. */
  async function latestRun(
    workflowId: string,
    call: AbortableCall,
  ): Promise<{ runId: string; running: boolean } | undefined> {
    try {
      const description = await call(() => client.workflow.getHandle(workflowId).describe());
      return { runId: description.runId, running: description.status.name === 'RUNNING' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  async function reconcile(input: ReconcileInput, call: AbortableCall): Promise<ReconcileResult> {
    const checkedAt = Date.now();
    const closed = new Set<string>();
    for (const jobId of input.holders) {
      const workflowId = renderJobWorkflowId(jobId);
      const latest = await latestRun(workflowId, call);
      if (latest?.running) continue;
      closed.add(jobId);
      // Its render may still be going at the renderer, beyond the caps: stop it.
      const orphan = latest
        ? await orphanRender(workflowId, latest.runId, call).catch(() => undefined)
        : undefined;
      if (orphan) {
        const acknowledged = await renderers[orphan.renderer].cancel(orphan.renderId);
        activityLog.warn('stopped the render of a job workflow that closed mid-render', {
          jobId,
          ...orphan,
          rendererAcknowledged: acknowledged,
        });
      }
    }
    let visibility = true;
    const since = new Date(input.closedSince).toISOString();
    try {
      const query = `${ABNORMAL_CLOSE} AND CloseTime >= '${since}'`;
      for await (const run of client.workflow.list({ query })) {
        const jobId = jobIdFromWorkflowId(run.workflowId);
        if (!jobId || (await latestRun(run.workflowId, call))?.running) continue;
        closed.add(jobId);
        await recordAbnormalEnd(
          jobId,
          run.workflowId,
          await closeReason(run.workflowId, run.runId, run.status.name, call),
        );
        Context.current().heartbeat();
      }
    } catch (err) {
      visibility = false;
      activityLog.debug('visibility unavailable; holders were checked directly', { error: messageOf(err) });
    }
    return { closed: [...closed], checkedAt, visibility };
  }

  /**
   * After a fresh start: every running job is asked to re-register (waiting or holding).
   * Returns how many were asked, and how many of them were rendering (RenderStatus
   * `processing`): admission holds its grants until those have re-registered their permits.
   */
  async function announce(
    call: AbortableCall,
  ): Promise<{ signalled: number; rendering: number; visibility: boolean }> {
    let signalled = 0;
    let rendering = 0;
    try {
      const query = `WorkflowType = '${WORKFLOW_TYPE.renderJob}' AND ExecutionStatus = 'Running'`;
      for await (const run of client.workflow.list({ query })) {
        try {
          await call(() => client.workflow.getHandle(run.workflowId).signal(admissionRestartedSignal));
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) continue;
          throw err;
        }
        signalled += 1;
        if (run.typedSearchAttributes.get(SEARCH_ATTRIBUTES.renderStatus) === 'processing') rendering += 1;
        if (signalled % 50 === 0) Context.current().heartbeat(signalled);
      }
    } catch (err) {
      activityLog.warn('could not ask running jobs to re-register after an admission restart', {
        error: messageOf(err),
      });
      return { signalled, rendering, visibility: false };
    }
    return { signalled, rendering, visibility: true };
  }

  return {
    /** The config row, validated, for the admission workflow. */
    async readAdmissionConfig(): Promise<ConfigValidation> {
      return validateQueueConfig(await store.readQueueConfig());
    },

    reconcileAdmission(input: ReconcileInput): Promise<ReconcileResult> {
      return bounded((call) => reconcile(input, call));
    },

    /**
     * Reads the admission queue (a query, so nothing of it enters any history) and writes
     * positions and estimated starts of every waiting job. Waits `delayMs` first, so a burst of
     * changes is published once.
     */
    async publishQueuePositions(input: { delayMs: number }): Promise<PublishResult> {
      if (input.delayMs > 0) await Context.current().sleep(Math.min(input.delayMs, QUERY_TIMEOUT_MS));
      const snapshot = await bounded(() =>
        withTimeout(
          client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery),
          QUERY_TIMEOUT_MS,
          `admission snapshot query timed out after ${QUERY_TIMEOUT_MS} ms`,
        ),
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
          // Whole seconds: an estimate that moved by milliseconds is not worth a row write.
          estimatedStartAt: new Date(Math.round(e.estimatedStartAt / 1000) * 1000).toISOString(),
          acceptedAt: new Date(e.acceptedAt).toISOString(),
        })),
      );
      return { version: snapshot.version, ...outcome };
    },

    announceAdmissionRestart(): Promise<{ signalled: number; rendering: number; visibility: boolean }> {
      return bounded(announce);
    },
  };
}

export type AdmissionActivities = ReturnType<typeof createAdmissionActivities>;
