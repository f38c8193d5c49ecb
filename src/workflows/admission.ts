/**
 * The admission authority: one long-running workflow per namespace (id
 * `render-queue-admission`) that owns the queue order and the fleet-wide caps. Job workflows ask
 * it for a permit before each render attempt and give it back when the attempt ends; it grants in
 * (priority, accepted time, job id) order whenever a permit frees or the caps change, so every
 * worker process, every renderer and every published queue position agree on one order.
 *
 * Temporal behaviour this relies on:
 * - Requests and releases are signals: durable once accepted, and a batch of them is handled in
 *   one workflow task, followed by one dispatch pass.
 * - Grants are signals to the jobs' workflows, sent by a local activity per dispatch pass (one
 *   history marker per batch); when a job's workflow has closed, its signal fails and the delivery
 *   reports it back by a `grantsUndelivered` signal, on which the permit is reclaimed. Holders that
 *   close without running code (terminate, run timeout) are found by a periodic reconciliation.
 * - Continue-as-new carries the queue compactly in its input; grants in flight and running
 *   handlers finish first, so no request is lost across the boundary.
 * - Time here is workflow time: peak hours are evaluated deterministically from it.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { effectiveCaps } from '../capacity/peak-hours';
import type { CapsConfig } from '../capacity/peak-hours';
import {
  ADMISSION_LIMITS,
  ADMISSION_REQUEST_BATCHES_PATCH,
  ADMISSION_SHORTER_RUNS_PATCH,
  ADMISSION_BRIEF_HANDOVER_PATCH,
  ADMISSION_RECONCILE_KEEPS_NEWER_RUNS_PATCH,
  ADMISSION_REPLAY_ORDER_PATCH,
  DEFAULT_QUEUE_CONFIG,
  SERVICE_QUEUE_PATCH,
  SERVICE_WORKFLOW_TASK_QUEUE,
  SYNC_TASK_QUEUE,
} from '../shared/constants';
import { AdmissionQueue, requestProblem } from '../shared/admission-queue';
import type { EncodedQueue, HolderEntry, PermitRequest } from '../shared/admission-queue';
import { NO_DURATIONS, estimateAdmissionQueue, observeDuration } from '../shared/admission-estimate';
import type { RenderDurations } from '../shared/admission-estimate';
import {
  admissionConfigChangedSignal,
  admissionSnapshotQuery,
  grantsUndeliveredSignal,
  jobAdmissionQuery,
  permitReleaseSignal,
  permitRequestSignal,
  permitRequestsSignal,
  reprioritizeSignal,
} from '../shared/admission-messages';
import type {
  AdmissionCapsInForce,
  GrantToDeliver,
  JobAdmission,
  UndeliveredGrant,
} from '../shared/admission-messages';
import type { AdmissionActivities, PermitActivities } from '../activities/admission';
import { errorMessage } from '../shared/error-message';
import { INVALID_ADMISSION_INPUT } from '../shared/errors';
import { idempotentLocalActivities } from './idempotent-local-activities';

export interface AdmissionOptions {
  /** Continue-as-new at this many history events (default ADMISSION_LIMITS.historyLimit). */
  historyLimit?: number;
  housekeepingSeconds?: number;
  publishMinIntervalMs?: number;
  recoverySeconds?: number;
}

/** What one run hands to the next. */
export interface AdmissionCarried {
  queue: EncodedQueue;
  /** The last good `job_queue_config` caps and peak window. */
  config: CapsConfig;
  durations: RenderDurations;
  /** Epoch ms up to which closed job workflows were reconciled. */
  reconciledUntil: number;
  /** Permits granted over the workflow's whole life, across runs. */
  granted: number;
  /** The newest acceptance stamp, so stamps keep increasing across runs. */
  lastAccepted?: number;
  /** The run handing over handled batched requests (`permitRequests`); absent from older code. */
  requestBatches?: true;
}

export interface AdmissionInput {
  version: 1;
  /** Absent on a fresh start: the queue is rebuilt by asking every running job to re-register. */
  state?: AdmissionCarried;
  options?: AdmissionOptions;
}

/**
 * Grant delivery is a local activity, retried until Temporal takes the signals (a job without its
 * grant would wait, holding a permit). It holds admission's workflow task open while its signals
 * go out, so no later dispatch pass can overtake it: the order of grants is the order of signals.
 * Its result is never acted on (patch admission-replay-order): on replay, Core
 * may hand a local activity's result to the workflow in another activation than it ran in, and
 * admission reacting to it there (a reclaimed permit, the next dispatch) would schedule its next
 * commands in another order than history holds. Grants that found no job come back as a signal
 * instead, an event replayed where it happened (docs/ARCHITECTURE.md, "The grant delivery and
 * replay").
 */
const { deliverGrants, deliverGrantsReportingUndelivered } = idempotentLocalActivities<PermitActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

/**
 * A regular activity, not a local one: a local activity keeps the workflow task open while it
 * runs, and an open task holds every request, release and query; a slow database read would
 * stall all grants. A few quick tries; the last good config stays in force meanwhile.
 */
const { readAdmissionConfig } = proxyActivities<AdmissionActivities>({
  taskQueue: SYNC_TASK_QUEUE,
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3, initialInterval: '500ms' },
});

const { reconcileAdmission, announceAdmissionRestart } = proxyActivities<AdmissionActivities>({
  taskQueue: SYNC_TASK_QUEUE,
  startToCloseTimeout: '2m',
  heartbeatTimeout: '30s',
  // Both are repeated on the next round anyway: a few tries, then wait for it.
  retry: { maximumAttempts: 3, initialInterval: '1s', maximumInterval: '10s' },
});

const { publishQueuePositions } = proxyActivities<AdmissionActivities>({
  taskQueue: SYNC_TASK_QUEUE,
  startToCloseTimeout: '30s',
  // A failed publish leaves positions stale, never wrong for long: the next change publishes again.
  retry: { maximumAttempts: 3, initialInterval: '1s', maximumInterval: '5s' },
});

const CAPS_FIELDS = [
  'maxConcurrentRenders',
  'maxManimRenders',
  'peakHourStart',
  'peakHourEnd',
  'peakWorkerMultiplier',
  'timeZone',
] as const;

function capsConfigOf(config: CapsConfig): CapsConfig {
  const picked = {} as Record<(typeof CAPS_FIELDS)[number], unknown>;
  for (const field of CAPS_FIELDS) picked[field] = config[field];
  return picked as CapsConfig;
}

/** Each reconciliation looks back this far past the last one, so a late visibility record is not missed. */
const RECONCILE_OVERLAP_MS = 60_000;
/** Republishes for waiting jobs whose rows do not exist yet, before waiting for the next change. */
const MISSING_ROW_REPUBLISHES = 5;

/** Workflow time in epoch ms (the sandbox's Date is the workflow clock, deterministic on replay). */
const now = (): number => new Date().getTime();

export async function renderAdmission(input: AdmissionInput = { version: 1 }): Promise<void> {
  if (input.version !== 1) {
    throw ApplicationFailure.nonRetryable(
      `unknown admission input version ${String(input.version)}`,
      INVALID_ADMISSION_INPUT,
    );
  }
  /** Continue-as-new holds up no grant: short runs, and grants go on while the loops wind down. */
  const briefHandover = patched(ADMISSION_BRIEF_HANDOVER_PATCH);
  const options = {
    historyLimit:
      input.options?.historyLimit ??
      (briefHandover
        ? ADMISSION_LIMITS.historyLimit
        : patched(ADMISSION_SHORTER_RUNS_PATCH)
          ? ADMISSION_LIMITS.historyLimitShorterRuns
          : ADMISSION_LIMITS.historyLimitBefore),
    housekeepingMs: (input.options?.housekeepingSeconds ?? ADMISSION_LIMITS.housekeepingSeconds) * 1000,
    publishMinIntervalMs: input.options?.publishMinIntervalMs ?? ADMISSION_LIMITS.publishMinIntervalMs,
    recoveryMs: (input.options?.recoverySeconds ?? ADMISSION_LIMITS.recoverySeconds) * 1000,
  };
  const carried = input.state;
  const queue = AdmissionQueue.decode(carried?.queue);
  let config: CapsConfig = carried?.config ?? capsConfigOf(DEFAULT_QUEUE_CONFIG);
  let durations: RenderDurations = carried?.durations ?? NO_DURATIONS;
  let reconciledUntil = carried?.reconciledUntil ?? now();
  let grantedTotal = carried?.granted ?? 0;
  /** The newest acceptance stamp handed out (strictly increasing). */
  let lastAccepted = carried?.lastAccepted ?? 0;

  /** Bumped whenever a position or an estimate may have moved. */
  let version = 1;
  let publishedVersion = 0;
  let dirty = true;
  let recovering = carried === undefined;
  /**
   * Every request sent to admission reached a run that handled it: false after a run of older code
   * (it dropped batched requests) until every running job has been asked to register again.
   */
  let everyRequestHeard = carried === undefined || carried.requestBatches === true;
  /** Permits re-registered by their holders since a fresh start. */
  let reRegistered = 0;
  let configChanged = false;
  let closing = false;
  let grantsInFlight = 0;

  /**
   * Nothing admission does depends on where a delivery's result lands (see deliverGrants):
   * undelivered grants come back as a signal, and continue-as-new waits for the other loops.
   */
  const replayOrdered = patched(ADMISSION_REPLAY_ORDER_PATCH);
  /**
   * A job found closed by reconciliation keeps its permit or place if it asked while the round
   * ran: the request came from a newer run of the job (a re-run) than the one found closed.
   */
  const reconcileKeepsNewerRuns = patched(ADMISSION_RECONCILE_KEEPS_NEWER_RUNS_PATCH);
  /** Jobs that asked since the current reconciliation round began. */
  const askedDuringRound = new Set<string>();
  /**
   * Grant deliveries, numbered within this run, and each job's last: a report that a delivery
   * found no job is stale once a later one went out. In memory only: every delivery of a run,
   * and its report, ends before the run continues as new.
   */
  let deliveries = 0;
  const lastDelivery = new Map<string, number>();

  const capsNow = (): AdmissionCapsInForce => effectiveCaps(config, new Date());
  const changed = (): void => {
    version += 1;
    dirty = true;
  };

  const onRequest = (request: PermitRequest): void => {
    const problem = requestProblem(request);
    if (problem !== undefined) {
      log.warn('admission ignored a malformed permit request', { problem, jobId: request?.jobId });
      return;
    }
    if (request.holding) reRegistered += 1;
    askedDuringRound.add(request.jobId);
    // Every arrival gets its own, later stamp: requests handled in one workflow task share its
    // time, and their order of arrival must survive as the order they are served in.
    lastAccepted = Math.max(now(), lastAccepted + 1);
    const outcome = queue.request(request, lastAccepted);
    // A repeated request of a holder (a lost grant, or a job re-registering): repeat the grant.
    if (outcome.kind === 'holding') void sendGrants([outcome.holder]);
    changed();
  };
  setHandler(permitRequestSignal, onRequest);
  setHandler(permitRequestsSignal, (requests) => {
    // A run of older code had no handler and dropped these: replayed, it still drops them (and
    // hands over no `requestBatches` mark, so the next run asks every job to register again).
    if (!patched(ADMISSION_REQUEST_BATCHES_PATCH)) {
      everyRequestHeard = false;
      return;
    }
    if (!Array.isArray(requests)) {
      log.warn('admission ignored a malformed batch of permit requests', { type: typeof requests });
      return;
    }
    requests.forEach(onRequest);
  });

  setHandler(permitReleaseSignal, (release) => {
    const removed = queue.release(release.jobId, release.attempt);
    if (!removed) return;
    if ('grantedAt' in removed && release.outcome === 'completed') {
      durations = observeDuration(durations, removed.renderer, now() - removed.grantedAt);
    }
    changed();
  });

  setHandler(reprioritizeSignal, ({ jobId, priority }) => {
    if (queue.reprioritize(jobId, priority)) changed();
  });

  setHandler(admissionConfigChangedSignal, () => {
    configChanged = true;
  });

  setHandler(admissionSnapshotQuery, () => ({
    now: now(),
    version,
    caps: capsNow(),
    queue: queue.encode(),
    durations,
  }));

  setHandler(jobAdmissionQuery, (jobId): JobAdmission => {
    const holder = queue.holder(jobId);
    if (holder) {
      return {
        state: 'holding',
        attempt: holder.attempt,
        grantedAt: new Date(holder.grantedAt).toISOString(),
      };
    }
    const waiting = queue.waitingEntry(jobId);
    if (!waiting) return { state: 'unknown' };
    const mine = estimateAdmissionQueue(queue, capsNow(), durations, now()).find((e) => e.jobId === jobId);
    return {
      state: 'waiting',
      attempt: waiting.attempt,
      position: mine?.position ?? 0,
      estimatedStartAt: new Date(mine?.estimatedStartAt ?? now()).toISOString(),
      waitingTotal: queue.waitingCount,
    };
  });

  /**
   * The permits of grants whose job workflow had closed are reclaimed. A report that names its
   * delivery reclaims only if that was the job's last one and the job still holds that attempt: a
   * job granted again since (its new run asked meanwhile), or holding or waiting no more, makes
   * the report stale.
   */
  function reclaimUndelivered(undelivered: UndeliveredGrant[]): void {
    for (const { jobId, attempt, delivery, error } of undelivered) {
      if (delivery !== undefined) {
        const held = queue.holder(jobId);
        if (held?.attempt !== attempt || lastDelivery.get(jobId) !== delivery) {
          log.info('undelivered grant was superseded; nothing reclaimed', { jobId, attempt, error });
          continue;
        }
      }
      log.warn('grant could not be delivered; permit reclaimed', { jobId, attempt, error });
      if (queue.release(jobId, attempt)) changed();
    }
  }

  setHandler(grantsUndeliveredSignal, (undelivered) => {
    if (!Array.isArray(undelivered)) {
      log.warn('admission ignored a malformed report of undelivered grants', { type: typeof undelivered });
      return;
    }
    const wellFormed = undelivered.filter(
      (grant) =>
        typeof grant?.jobId === 'string' &&
        Number.isSafeInteger(grant.attempt) &&
        grant.attempt >= 1 &&
        (grant.delivery === undefined || Number.isSafeInteger(grant.delivery)),
    );
    if (wellFormed.length < undelivered.length) {
      log.warn('admission ignored malformed undelivered grants', {
        ignored: undelivered.length - wellFormed.length,
      });
    }
    reclaimUndelivered(wellFormed);
  });

  /** Tells jobs their permits are granted; the permit of a job that has closed meanwhile is reclaimed. */
  async function sendGrants(holders: HolderEntry[]): Promise<void> {
    if (holders.length === 0) return;
    const grants: GrantToDeliver[] = holders.map(({ jobId, attempt, acceptedAt }) => {
      deliveries += 1;
      lastDelivery.set(jobId, deliveries);
      return { jobId, attempt, acceptedAt, delivery: deliveries };
    });
    grantsInFlight += 1;
    try {
      if (replayOrdered) await deliverGrantsReportingUndelivered(grants);
      else reclaimUndelivered((await deliverGrants(grants)).undelivered);
    } finally {
      grantsInFlight -= 1;
    }
  }

  function dispatch(): void {
    const granted = queue.dispatch(capsNow(), now());
    grantedTotal += granted.length;
    void sendGrants(granted);
  }

  async function refreshConfig(): Promise<void> {
    try {
      const result = await readAdmissionConfig();
      if (!result.ok) {
        log.warn('job_queue_config rejected; keeping the last good caps', { reason: result.reason });
        return;
      }
      const next = capsConfigOf(result.config);
      if (CAPS_FIELDS.some((field) => next[field] !== config[field])) {
        log.info('admission caps config applied', { from: config, to: next });
        config = next;
      }
    } catch (err) {
      log.warn('job_queue_config unreadable; keeping the last good caps', {
        error: errorMessage(err),
      });
    }
  }

  async function reconcile(): Promise<void> {
    askedDuringRound.clear();
    try {
      const result = await reconcileAdmission({
        holders: queue.holdersList().map((holder) => holder.jobId),
        closedSince: reconciledUntil - RECONCILE_OVERLAP_MS,
      });
      for (const jobId of result.closed) {
        // Asked while the round ran: a newer run of the job than the one found closed.
        if (reconcileKeepsNewerRuns && askedDuringRound.has(jobId)) {
          log.info('job asked again while its closed run was reconciled; kept', { jobId });
          continue;
        }
        const forgotten = queue.forget(jobId);
        if (forgotten.held || forgotten.waited) {
          log.warn('job workflow closed without giving its place back; reclaimed', { jobId, ...forgotten });
          changed();
        }
      }
      reconciledUntil = result.checkedAt;
    } catch (err) {
      log.warn('admission reconciliation failed; retried next round', {
        error: errorMessage(err),
      });
    }
  }

  /** Config, peak hours and reconciliation, every few seconds (at once on a config signal). */
  async function housekeeping(): Promise<void> {
    for (;;) {
      configChanged = false;
      await refreshConfig();
      await reconcile();
      // Peak hours may have begun or ended, and estimates age: dispatch and republish.
      changed();
      await condition(() => configChanged || closing, options.housekeepingMs);
      if (closing) return;
    }
  }

  async function publisher(): Promise<void> {
    let lastPublishAt = 0;
    let republishes = 0;
    for (;;) {
      await condition(() => closing || (!recovering && version !== publishedVersion));
      if (closing) return;
      try {
        // A delay, not a deadline: workflow time and the worker's clock need not agree.
        const delayMs = Math.max(
          0,
          Math.min(options.publishMinIntervalMs, lastPublishAt + options.publishMinIntervalMs - now()),
        );
        const result = await publishQueuePositions({ delayMs });
        publishedVersion = Math.max(publishedVersion, result.version);
        // A waiting job's row may not exist yet (its first sync is in flight): try again shortly.
        if (result.missing === 0 || publishedVersion !== version) republishes = 0;
        else if (republishes++ < MISSING_ROW_REPUBLISHES) publishedVersion = version - 1;
      } catch (err) {
        log.warn('queue positions not published; retried on the next change', {
          error: errorMessage(err),
        });
        publishedVersion = version;
      }
      lastPublishAt = now();
    }
  }

  /**
   * A fresh start lost the queue: every running job is asked to re-register, and nothing is
   * granted until the jobs that were rendering have re-registered their permits (or a few seconds
   * passed), so the caps hold across the restart. On a namespace's very first start nothing renders.
   */
  async function recover(): Promise<void> {
    try {
      const { signalled, rendering } = await announceAdmissionRestart();
      if (rendering > 0) {
        log.info('admission started afresh; waiting for rendering jobs to re-register', {
          signalled,
          rendering,
        });
        await condition(() => closing || reRegistered >= rendering, options.recoveryMs);
      }
    } catch (err) {
      log.warn('could not ask running jobs to re-register', {
        error: errorMessage(err),
      });
    }
    recovering = false;
    changed();
  }

  /** Jobs re-register what they wait for or hold; grants go on meanwhile (the holders are known). */
  async function reannounce(): Promise<void> {
    try {
      const { signalled, visibility } = await announceAdmissionRestart();
      log.info('asked running jobs to register again after a run of older code', { signalled, visibility });
      // Without visibility not every job was found: the next run asks again.
      everyRequestHeard = visibility;
    } catch (err) {
      log.warn('could not ask running jobs to register again', { error: errorMessage(err) });
    }
  }

  const continueAsNewDue = (): boolean =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= options.historyLimit;

  /** The loops beside dispatch: each ends once `closing` is set (or its activity returns). */
  const loops: Array<Promise<void>> = [];
  if (recovering) loops.push(recover());
  // A run of code without a handler for batched requests drops them when it continues as new (a
  // rolling deploy, with new workers sending batches): every job is asked to register again.
  else if (!carried?.requestBatches && patched(ADMISSION_REQUEST_BATCHES_PATCH)) loops.push(reannounce());
  loops.push(housekeeping(), publisher());

  for (;;) {
    await condition(() => dirty || continueAsNewDue());
    if (continueAsNewDue()) break;
    dirty = false;
    if (!recovering) dispatch();
  }

  // Nothing new is granted from here; grants already sent finish. A delivery sends its report of
  // undelivered grants before it completes, and the server lets no run continue as new while a
  // signal waits for it, so the reclaim is handled here before the queue is carried over.
  closing = true;
  // The other loops end first (housekeeping cancels its timer): otherwise whether they or the
  // continue-as-new's patch markers came first would depend on when the last delivery's result
  // landed, which differs on replay (a full benchmark run failed replay exactly there).
  if (briefHandover) {
    // The publisher may be inside a publish of up to a second: slots freed meanwhile are granted
    // at once rather than by the next run.
    const ended = Promise.all(loops);
    let loopsEnded = false;
    const markEnded = (): void => {
      loopsEnded = true;
    };
    ended.then(markEnded, markEnded);
    for (;;) {
      await condition(() => dirty || loopsEnded);
      if (loopsEnded) break;
      dirty = false;
      if (!recovering) dispatch();
    }
    await ended;
  } else if (replayOrdered) await Promise.all(loops);
  await condition(() => grantsInFlight === 0 && allHandlersFinished());
  // Runs started on the high queue (before admission had its own) move over here.
  const next = patched(SERVICE_QUEUE_PATCH)
    ? makeContinueAsNewFunc<typeof renderAdmission>({ taskQueue: SERVICE_WORKFLOW_TASK_QUEUE })
    : continueAsNew<typeof renderAdmission>;
  await next({
    version: 1,
    state: {
      queue: queue.encode(),
      config,
      durations,
      reconciledUntil,
      granted: grantedTotal,
      lastAccepted,
      ...(everyRequestHeard && patched(ADMISSION_REQUEST_BATCHES_PATCH)
        ? { requestBatches: true as const }
        : {}),
    },
    ...(input.options ? { options: input.options } : {}),
  });
}
