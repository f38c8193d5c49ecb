/**
 * What the admin page shows, gathered from where each fact lives:
 * - the waiting list, its order and the renders in flight: admission's own state (one query of
 *   the admission workflow, decoded here), so the page shows the order that grants, as `status`
 *   and the published queue positions do;
 * - job details (type, progress), failures, counts and the last hour: the read model, in batches
 *   (one query for a page of jobs, never one per job).
 * Payloads are never read into the view: they are user content and may be large.
 */
import type { AdmissionCapsInForce, AdmissionSnapshot } from '../shared/admission-messages';
import { AdmissionQueue } from '../shared/admission-queue';
import type { HolderEntry, WaitingEntry } from '../shared/admission-queue';
import { estimateAdmissionQueue } from '../shared/admission-estimate';
import { JOB_STATUSES, PRIORITIES, renderJobWorkflowId } from '../shared/constants';
import type { JobStatus, Priority, Renderer } from '../shared/constants';
import type { JobRow, QueueStats } from '../shared/job-schema';
import type { JobStore } from '../store/job-store';
import { redact } from '../observability/secrets';
import { errorFirstLine } from '../shared/error-message';

export const PAGE_SIZE = 50;
const FINISHED_SHOWN = 10;
/** Errors are user-visible text of any length; the page shows the start of each. */
const ERROR_SHOWN_CHARS = 500;

export interface AdminSources {
  /** The admission workflow's snapshot: one gRPC query. */
  snapshot(): Promise<AdmissionSnapshot>;
  /** The read model; without one (no DATABASE_URL/SUPABASE_URL) the page shows admission only. */
  store: JobStore | undefined;
  temporalUiUrl: string;
  namespace: string;
  now?: () => number;
}

export interface WaitingJob {
  /** 1-based place in the global admission order. */
  order: number;
  jobId: string;
  priority: Priority;
  renderer: Renderer;
  jobType: string | null;
  /** Place within its slot pool: position 1 is that pool's next start. */
  position: number;
  estimatedStartAt: string | null;
  acceptedAt: string;
  attempt: number;
}

export interface InFlightJob {
  jobId: string;
  renderer: Renderer;
  priority: Priority | null;
  jobType: string | null;
  attempt: number;
  grantedAt: string;
  progress: number | null;
}

export interface FinishedJob {
  jobId: string;
  status: 'failed' | 'cancelled';
  jobType: string;
  renderer: Renderer;
  priority: Priority;
  error: string | null;
  /** Render attempts made (0 when it never started). */
  attempts: number;
  finishedAt: string | null;
}

/** Everything the page renders; its JSON is also the change key of live updates. */
export interface AdminView {
  admissionError: string | null;
  storeError: string | null;
  hasStore: boolean;
  caps: AdmissionCapsInForce | null;
  inFlight: { total: number; manim: number; general: number; jobs: InFlightJob[] };
  waiting: {
    total: number;
    manim: number;
    general: number;
    page: number;
    pages: number;
    pageSize: number;
    /** Estimated start of the last waiting job: how deep the queue is, in time. */
    lastEstimatedStartAt: string | null;
    jobs: WaitingJob[];
  };
  counts: Record<JobStatus, number> | null;
  lastHour: (QueueStats['lastHour'] & { completionRate: number | null }) | null;
  finished: FinishedJob[];
  links: { temporalUiUrl: string; namespace: string };
}

interface AdmissionState {
  caps: AdmissionCapsInForce;
  order: WaitingEntry[];
  /** Estimated start per waiting job, epoch ms (whole seconds, as the read model has them). */
  estimates: Map<string, { position: number; startAt: number }>;
  holders: HolderEntry[];
  pools: { manim: number; general: number };
}

/** The part of the view that does not depend on the page: loaded once per live tick. */
export interface QueueState {
  admission: AdmissionState | { error: string };
  stats: QueueStats | null;
  finished: JobRow[];
  storeError: string | null;
}

const message = (err: unknown): string => redact(errorFirstLine(err));

export function decodeAdmission(snapshot: AdmissionSnapshot, now: number): AdmissionState {
  const queue = AdmissionQueue.decode(snapshot.queue);
  const estimates = new Map<string, { position: number; startAt: number }>();
  for (const e of estimateAdmissionQueue(queue, snapshot.caps, snapshot.durations, now)) {
    estimates.set(e.jobId, { position: e.position, startAt: Math.round(e.estimatedStartAt / 1000) * 1000 });
  }
  return {
    caps: snapshot.caps,
    order: [...queue.waitingInOrder()],
    estimates,
    holders: queue.holdersList().sort((a, b) => a.grantedAt - b.grantedAt),
    pools: { manim: queue.pool('manim').length, general: queue.pool('general').length },
  };
}

export async function loadQueueState(sources: AdminSources): Promise<QueueState> {
  const now = sources.now?.() ?? Date.now();
  const store = sources.store;
  const [admission, fromStore] = await Promise.all([
    sources.snapshot().then(
      (snapshot) => decodeAdmission(snapshot, now),
      (err: unknown) => ({ error: message(err) }),
    ),
    store
      ? Promise.all([
          store.getQueueStats(),
          store.listJobs({ status: 'failed', limit: FINISHED_SHOWN }),
          store.listJobs({ status: 'cancelled', limit: FINISHED_SHOWN }),
        ]).then(
          ([stats, failed, cancelled]) => ({ stats, finished: [...failed, ...cancelled], storeError: null }),
          (err: unknown) => ({ stats: null, finished: [], storeError: message(err) }),
        )
      : { stats: null, finished: [], storeError: null },
  ]);
  const finishedAt = (row: JobRow) => Date.parse(row.completedAt ?? row.updatedAt);
  const finished = fromStore.finished.sort((a, b) => finishedAt(b) - finishedAt(a)).slice(0, FINISHED_SHOWN);
  return { admission, stats: fromStore.stats, finished, storeError: fromStore.storeError };
}

/**
 * One load shared by every request within `maxAgeMs` (the live loop, page views, the API): one
 * admission query and one round of read-model queries a second, however many operators look.
 */
export class SharedQueueState {
  private last: { at: number; state: Promise<QueueState> } | undefined;

  constructor(
    private readonly sources: AdminSources,
    private readonly maxAgeMs = 900,
  ) {}

  get(): Promise<QueueState> {
    const now = Date.now();
    if (this.last && now - this.last.at < this.maxAgeMs) return this.last.state;
    const state = loadQueueState(this.sources);
    this.last = { at: now, state };
    state.catch(() => {
      if (this.last?.state === state) this.last = undefined;
    });
    return state;
  }

  /** After an action: the next reader loads afresh. */
  invalidate(): void {
    this.last = undefined;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The rows of `ids`, in batches the store accepts; a read-model outage leaves details out. */
async function rowsOf(store: JobStore | undefined, ids: string[]): Promise<Map<string, JobRow>> {
  const rows = new Map<string, JobRow>();
  if (!store) return rows;
  for (let at = 0; at < ids.length; at += 500) {
    for (const row of await store.getJobs(ids.slice(at, at + 500))) rows.set(row.id, row);
  }
  return rows;
}

export function pageCount(total: number, pageSize = PAGE_SIZE): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

export async function buildView(
  state: QueueState,
  requestedPage: number,
  sources: Pick<AdminSources, 'store' | 'temporalUiUrl' | 'namespace'>,
  pageSize = PAGE_SIZE,
): Promise<AdminView> {
  const admission = 'error' in state.admission ? null : state.admission;
  const order = admission?.order ?? [];
  const pages = pageCount(order.length, pageSize);
  const page = Math.min(Math.max(1, requestedPage), pages);
  const start = (page - 1) * pageSize;
  const onPage = order.slice(start, start + pageSize);
  const holders = admission?.holders ?? [];
  let storeError = state.storeError;
  const rows = await rowsOf(
    sources.store,
    [...onPage, ...holders].map((e) => e.jobId),
  ).catch((err: unknown) => {
    storeError ??= message(err);
    return new Map<string, JobRow>();
  });
  const stats = state.stats;
  const settled = stats ? stats.lastHour.completed + stats.lastHour.failed : 0;
  const lastEstimate = order.length ? admission?.estimates.get(order[order.length - 1]!.jobId) : undefined;
  const manimInFlight = holders.filter((h) => h.renderer === 'manim').length;
  return {
    admissionError: 'error' in state.admission ? state.admission.error : null,
    storeError,
    hasStore: sources.store !== undefined,
    caps: admission?.caps ?? null,
    inFlight: {
      total: holders.length,
      manim: manimInFlight,
      general: holders.length - manimInFlight,
      jobs: holders.map((h) => {
        const row = rows.get(h.jobId);
        return {
          jobId: h.jobId,
          renderer: h.renderer,
          priority: row?.priority ?? null,
          jobType: row?.jobType ?? null,
          attempt: h.attempt,
          grantedAt: iso(h.grantedAt),
          progress: row?.status === 'processing' ? row.progress : null,
        };
      }),
    },
    waiting: {
      total: order.length,
      manim: admission?.pools.manim ?? 0,
      general: admission?.pools.general ?? 0,
      page,
      pages,
      pageSize,
      lastEstimatedStartAt: lastEstimate ? iso(lastEstimate.startAt) : null,
      jobs: onPage.map((entry, i) => {
        const estimate = admission?.estimates.get(entry.jobId);
        return {
          order: start + i + 1,
          jobId: entry.jobId,
          priority: PRIORITIES[entry.rank] ?? 'low',
          renderer: entry.renderer,
          jobType: rows.get(entry.jobId)?.jobType ?? null,
          position: estimate?.position ?? 0,
          estimatedStartAt: estimate ? iso(estimate.startAt) : null,
          acceptedAt: iso(entry.acceptedAt),
          attempt: entry.attempt,
        };
      }),
    },
    counts: stats
      ? (Object.fromEntries(JOB_STATUSES.map((s) => [s, stats.byStatus[s]])) as Record<JobStatus, number>)
      : null,
    lastHour: stats
      ? { ...stats.lastHour, completionRate: settled ? stats.lastHour.completed / settled : null }
      : null,
    finished: state.finished.map((row) => ({
      jobId: row.id,
      status: row.status === 'cancelled' ? 'cancelled' : 'failed',
      jobType: row.jobType,
      renderer: row.renderer,
      priority: row.priority,
      error: row.error === null ? null : redact(row.error.slice(0, ERROR_SHOWN_CHARS)),
      attempts: row.startedAt ? row.retryCount + 1 : 0,
      finishedAt: row.completedAt,
    })),
    links: { temporalUiUrl: sources.temporalUiUrl, namespace: sources.namespace },
  };
}

/** The job's workflow in the Temporal Web UI. */
export function workflowUrl(links: AdminView['links'], jobId: string): string {
  return `${links.temporalUiUrl}/namespaces/${encodeURIComponent(links.namespace)}/workflows/${encodeURIComponent(renderJobWorkflowId(jobId))}`;
}
