/**
 * Every fixed fact of the render queue: task queues, priorities, renderers, job types, limits
 * and default policy. Imported by workflows, activities, worker, CLI and tests, so it must stay
 * pure (no I/O, no Node built-ins): it is bundled into the workflow sandbox.
 */

export const PRIORITIES = ['high', 'medium', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Temporal's native priority key: lower runs first. Gaps leave room for urgent/bulk later. */
export const PRIORITY_KEY: Record<Priority, number> = { high: 1, medium: 3, low: 5 };

export const RENDERERS = ['manim', 'revideo', 'orchestrator'] as const;
export type Renderer = (typeof RENDERERS)[number];

/**
 * Job types the platform submits and the renderer each one uses unless the submitter picks
 * another. The migration seeds `job_types` with the same rows (a test keeps them equal).
 */
export const JOB_TYPE_DEFAULT_RENDERER = {
  doubt: 'manim',
  concept_explainer: 'revideo',
  solution_walkthrough: 'orchestrator',
  revision_summary: 'revideo',
} as const satisfies Record<string, Renderer>;
export type JobType = keyof typeof JOB_TYPE_DEFAULT_RENDERER;
export const JOB_TYPES = Object.keys(JOB_TYPE_DEFAULT_RENDERER) as [JobType, ...JobType[]];

/**
 * `retrying`: an attempt failed and the job waits out the retry interval (or, after it, for a
 * permit again); it holds no render slot meanwhile. Ranked with `processing`: the two alternate.
 */
export const JOB_STATUSES = ['queued', 'processing', 'retrying', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

/**
 * Workflow task queues, one per priority (docs/ARCHITECTURE.md, Worker processes), so a backlog
 * of low jobs never delays a high one; Temporal's priority keys order tasks within each.
 */
export const WORKFLOW_TASK_QUEUE: Record<Priority, string> = {
  high: 'render-jobs-high',
  medium: 'render-jobs-medium',
  low: 'render-jobs-low',
};

/**
 * Where the admission workflow and the intake sweep run: a queue and a Worker of their own, whose
 * small cache holds nothing else. On a job queue, a burst of job workflows pushed admission out of
 * the cache, and each of its next tasks replayed its whole history first (8-10 s under load, with
 * every grant waiting: seen in the saturation benchmark). The price is one more V8 isolate per
 * worker process.
 */
export const SERVICE_WORKFLOW_TASK_QUEUE = 'render-queue-service';
/**
 * Where admission and the intake sweep ran before they had a queue of their own. Runs started
 * there keep being served by the high queue's Worker until they continue as new onto the service
 * queue (a patched step in each workflow).
 */
export const SERVICE_WORKFLOW_TASK_QUEUE_BEFORE = WORKFLOW_TASK_QUEUE.high;
/** The patch (admission, intake sweep) under which a continue-as-new moves to the service queue. */
export const SERVICE_QUEUE_PATCH = 'service-task-queue';
/** The patch under which admission continues as new at ADMISSION_LIMITS.historyLimitShorterRuns (was historyLimitBefore). */
export const ADMISSION_SHORTER_RUNS_PATCH = 'admission-shorter-runs';
/** The patch under which a local activity Core reported cancelled, unasked, runs again (idempotent-local-activities.ts). */
export const LOCAL_ACTIVITY_CANCEL_RETRIED_PATCH = 'local-activity-cancel-retried';
/** The patch under which admission takes batched requests and, continued from older code, asks jobs to register again. */
export const ADMISSION_REQUEST_BATCHES_PATCH = 'admission-request-batches';
/**
 * The patch under which admission's commands never depend on where a grant delivery's result lands
 * on replay: an undelivered grant comes back as a signal, and continue-as-new waits for the other
 * loops to end first (workflows/admission.ts).
 */
export const ADMISSION_REPLAY_ORDER_PATCH = 'admission-replay-order';
/**
 * The patch under which reconciliation, finding a job's run closed, keeps what the job has if it
 * asked while the round ran: a re-run of the job (workflows/admission.ts).
 */
export const ADMISSION_RECONCILE_KEEPS_NEWER_RUNS_PATCH = 'admission-reconcile-keeps-newer-runs';
/**
 * The patch under which admission's continue-as-new holds up no grant: its runs are
 * ADMISSION_LIMITS.historyLimit events long, and it grants on while its other loops wind down
 * (workflows/admission.ts).
 */
export const ADMISSION_BRIEF_HANDOVER_PATCH = 'admission-brief-handover';
/** The patch under which a job reaches admission through activities on the sync queue (workflows/admission-calls.ts). */
export const ADMISSION_CALLS_AS_ACTIVITIES_PATCH = 'admission-calls-as-activities';

/** Render activity queues: Manim is expensive and has its own cap, so it gets its own queue. */
export const RENDER_TASK_QUEUE = {
  manim: 'render-manim',
  general: 'render-general',
} as const;
export type RenderQueue = keyof typeof RENDER_TASK_QUEUE;

export function renderQueueFor(renderer: Renderer): RenderQueue {
  return renderer === 'manim' ? 'manim' : 'general';
}

/** Database sync, intake and config reads run on their own queue so they never wait for a render slot. */
export const SYNC_TASK_QUEUE = 'render-sync';

export const WORKFLOW_TYPE = {
  renderJob: 'renderJob',
  intake: 'intakeJobs',
  intakeSweep: 'intakeSweep',
  admission: 'renderAdmission',
} as const;

/**
 * The one admission authority of a namespace: a long-running workflow with a well-known id that
 * owns the queue order and the fleet-wide caps. It runs on the workflow queue with the highest
 * priority key, so its tasks go ahead of any backlog of job workflow tasks.
 */
export const ADMISSION_WORKFLOW_ID = 'render-queue-admission';

export const WORKFLOW_ID_PREFIX = 'render-job-';

/** The workflow id is derived from the job id, so a second submit of a job finds the first run. */
export function renderJobWorkflowId(jobId: string): string {
  return `${WORKFLOW_ID_PREFIX}${jobId}`;
}

export function jobIdFromWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith(WORKFLOW_ID_PREFIX) ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : undefined;
}

/** Policy defaults; a deployment overrides them in `job_queue_config` without a code change. */
export const DEFAULT_QUEUE_CONFIG = {
  maxConcurrentRenders: 10,
  maxManimRenders: 4,
  peakHourStart: '06:00',
  peakHourEnd: '21:00',
  peakWorkerMultiplier: 1.5,
  timeZone: 'UTC',
  jobTimeoutMinutes: 10,
  retryIntervalMinutes: 5,
  maxAttempts: 3,
} as const;

/**
 * The policy a job runs with when `job_queue_config` cannot be read or is invalid (a
 * RenderPolicy). Here rather than beside the schema, so workflow code can use it without zod.
 */
export const DEFAULT_RENDER_POLICY = {
  jobTimeoutMinutes: DEFAULT_QUEUE_CONFIG.jobTimeoutMinutes,
  retryIntervalMinutes: DEFAULT_QUEUE_CONFIG.retryIntervalMinutes,
  maxAttempts: DEFAULT_QUEUE_CONFIG.maxAttempts,
} as const;

export const LIMITS = {
  /** Payloads are carried in the workflow input; keep histories small and bounded. */
  maxPayloadBytes: 64 * 1024,
  maxPayloadDepth: 16,
  /**
   * A lost worker (crash, shutdown) is noticed this fast. Heartbeats run on a timer once the
   * render is submitted, independent of the renderer's answers, so a heartbeat timeout means the
   * worker is gone, never a slow renderer. Longer than one renderer request (the submit comes
   * before the first heartbeat).
   */
  renderHeartbeatTimeoutSeconds: 15,
  /** Before fleet-wide admission: heartbeats followed renderer answers (legacy histories only). */
  legacyRenderHeartbeatTimeoutSeconds: 20,
  /** How often a running render heartbeats (Core throttles what reaches the server). */
  renderHeartbeatEveryMs: 1000,
  /**
   * A render whose renderer has not answered a status poll for this long fails its attempt
   * (RendererUnavailable); shorter blips are ridden out.
   */
  renderPollErrorToleranceMs: 20_000,
  /**
   * Retries of a render activity are infrastructure only (a lost worker): the next worker resumes
   * the same render at once, keeping the job's permit and attempt.
   */
  renderResumeIntervalMs: 1000,
  /** How often a render activity polls its renderer (and heartbeats after each answer). */
  renderPollIntervalMs: 1000,
  /** Pause before running again a local activity that Core reported cancelled without a cancel. */
  localActivityCancelRetryMs: 1000,
  /** How often in a row it runs again before the cancellation stands (each run costs history events). */
  localActivityCancelRetries: 5,
  /** Per-request timeout for renderer calls; a hung call counts against the poll error tolerance. */
  rendererRequestTimeoutMs: 10_000,
  /** Progress is reported to the workflow in steps this big, to keep histories short. */
  progressSignalStep: 0.1,
  configRefreshSeconds: 15,
  /** Rows intake claims at a time. */
  intakeBatchSize: 50,
  /** Sync retries forever at short intervals, bounded by this: an outage delays the read model only. */
  syncScheduleToCloseHours: 6,
} as const;

/** What one worker process keeps in memory. */
export const WORKER_LIMITS = {
  /**
   * Workflows kept in each workflow Worker's cache (one Worker per priority queue; each
   * cached workflow has its own copy of the bundle's module state). A waiting job sits in it until
   * its grant; one evicted costs a replay of its ~20-event history when the grant comes. 40 per
   * queue covers every running render (the caps are 15 at most) and admission, and bounds memory
   * at any backlog (the SDK's default grows with the heap limit: ~2,300 on a 4 GB heap).
   */
  cachedWorkflowsPerQueue: 40,
  /** The service queue's Worker: admission and the intake sweep, with room for a run handing over to its next. */
  cachedServiceWorkflows: 4,
  /** Sync-queue activities (row writes, a job's first step, permit calls) one process runs at once. */
  syncActivities: 100,
} as const;

/** A permit request's signal-with-start gives up after this long (the activity sending it retries). */
export const ADMISSION_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Permit requests of one process are sent in batches (activities/admission-client.ts). Two sends
 * in flight, so a slow one does not hold up every request behind it; 200 requests (~40 KB) per
 * signal keep each payload far below the server's 2 MB limit and each batch quick to handle.
 */
export const ADMISSION_REQUEST_BATCHING = { maxInFlight: 2, maxBatch: 200 } as const;

/** The admission workflow's own rhythm; tests shorten some of them through its input. */
export const ADMISSION_LIMITS = {
  /** Config re-read, peak-hour re-evaluation and reconciliation of closed holders. */
  housekeepingSeconds: 15,
  /** Queue positions and estimated starts reach the read model at most this often. */
  publishMinIntervalMs: 1000,
  /**
   * Continue-as-new at this many history events under the `admission-shorter-runs` patch, even if
   * the server has not suggested it. Well under the server's 10,000 signals per run: a burst of
   * requests lands between two of its workflow tasks (10,000 jobs submitted at once exceeded it at
   * the old limit of 10,000 events, and every further request was refused).
   */
  historyLimitShorterRuns: 4_000,
  /**
   * The limit under the `admission-brief-handover` patch (runs started before it keep theirs). A signal that arrives while admission's
   * continue-as-new is out fails that workflow task, and the worker then replays the whole run
   * before anything else (1 ms or so per event on a 2-core machine) while every grant waits: at
   * 4,000 events that took 4 s and was the latency benchmark's worst pick-up. Shorter runs make
   * that wait short, for a few more handovers (a run's start reads the caps, reconciles and
   * publishes, and carries the queue: 10,000 waiting jobs are 600 KB).
   */
  historyLimit: 1_000,
  /** The limit before the `admission-shorter-runs` patch (runs started then keep it). */
  historyLimitBefore: 10_000,
  /** After a fresh start (not a continue-as-new), grants wait this long for holders to re-register. */
  recoverySeconds: 5,
  /**
   * Every process that runs workflows checks this often that an admission run exists, and starts
   * one if not: a run that failed or was terminated is replaced even when no job arrives or ends.
   */
  keeperSeconds: 15,
  /** Render duration assumed for a renderer with no completed render yet. */
  defaultRenderSeconds: 60,
  /** Weight of the newest render in the moving average of render durations. */
  durationSmoothing: 0.2,
} as const;
