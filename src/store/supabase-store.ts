/**
 * JobStore over Supabase's REST API (supabase-js -> PostgREST), for production. A thin transport
 * like the direct adapter: writes call the same SQL functions through rpc, so every rule about job
 * state stays in supabase/migrations.
 *
 * Errors: a refusal by the database's rules becomes a JobStoreConstraintError (retrying cannot
 * fix it); anything else (network, 5xx, timeout, a missing function) is a plain Error naming the
 * operation and the Supabase host, which the sync activity retries. The key never appears in them.
 */
import { supabaseJs } from './supabase-js';
import type { SupabaseClient, SupabaseClientOptions } from '@supabase/supabase-js';
import { describeZodError, JobTransitionSchema } from '../shared/job-schema';
import type { JobRow, JobTransition, QueueConfig, QueueStats } from '../shared/job-schema';
import type { JobStoreConstraintError } from './job-store';
import type {
  JobListFilter,
  JobStore,
  PublishOutcome,
  QueuePositionUpdate,
  QueuedJobInsert,
  TransitionOutcome,
} from './job-store';
import { redact } from '../observability/secrets';
import { invalidInput, parseListFilter, requireJobIds, requireUuid } from './input-checks';
import {
  constraintErrorFromDb,
  jobRowFromDb,
  parsePublishOutcome,
  parseQueueStats,
  queueConfigFromDb,
} from './postgres-store';
import type { JobDbRow } from './postgres-store';

/** The `jobs` columns the read model maps (same list as the direct adapter's). */
const JOB_COLUMNS =
  'id,user_id,job_type,priority,renderer,status,payload,retry_count,progress,error,result,queue_position,' +
  'estimated_start_at,next_attempt_at,accepted_at,workflow_id,sync_seq,created_at,started_at,completed_at,updated_at';

/** Per request: long enough for a slow transition under load, short enough that a hung sync retries. */
export const SUPABASE_REQUEST_TIMEOUT_MS = 10_000;

export interface SupabaseJobStoreOptions {
  /** Project URL (SUPABASE_URL), e.g. https://xyz.supabase.co. */
  url: string;
  /** SUPABASE_SERVICE_ROLE_KEY: bypasses RLS; the service is the only writer of job state. */
  serviceRoleKey: string;
  /** Per-request timeout; default SUPABASE_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** PostgREST's error body. */
interface PostgrestErrorBody {
  code?: string;
  message?: string;
  details?: string | null;
  hint?: string | null;
}

type RealtimeTransport = NonNullable<NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport']>;

/** Every request bounded; a caller's own signal still aborts it earlier. */
export function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init = {}) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return fetch(input, { ...init, signal });
  };
}

/**
 * PostgREST sends only code/message/details/hint, not the constraint or column pg reports; they
 * are recovered from Postgres's standard message wording so the mapping matches the direct adapter.
 */
export function constraintErrorFromPostgrest(error: PostgrestErrorBody): JobStoreConstraintError | undefined {
  if (typeof error.code !== 'string' || typeof error.message !== 'string') return undefined;
  const message = error.message;
  let constraint = /constraint "([^"]+)"/.exec(message)?.[1];
  // jobs_fill_renderer raises the foreign-key error itself (naming the constraint, which PostgREST drops).
  if (!constraint && error.code === '23503' && /^job_type ".*" is not a known job type$/.test(message)) {
    constraint = 'jobs_job_type_fkey';
  }
  const column = /null value in column "([^"]+)"/.exec(message)?.[1];
  return constraintErrorFromDb({
    code: error.code,
    message,
    detail: error.details ?? undefined,
    ...(constraint ? { constraint } : {}),
    ...(column ? { column } : {}),
  });
}

/**
 * The store never opens a realtime channel, but supabase-js builds its realtime client eagerly and,
 * on Node 20 (no global WebSocket), throws unless given a transport. This one refuses loudly if
 * anything ever tries to connect.
 */
class NoRealtimeTransport {
  constructor() {
    throw new Error('SupabaseJobStore does not use Supabase realtime');
  }
}

export class SupabaseJobStore implements JobStore {
  private readonly client: SupabaseClient;
  private readonly host: string;
  private readonly secret: string;

  constructor(options: SupabaseJobStoreOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new Error('SUPABASE_URL must be an http(s) URL');
    }
    if (!options.serviceRoleKey) throw new Error('SUPABASE_SERVICE_ROLE_KEY is required');
    this.host = parsed.host;
    this.secret = options.serviceRoleKey;
    this.client = supabaseJs().createClient(options.url, options.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { fetch: fetchWithTimeout(options.timeoutMs ?? SUPABASE_REQUEST_TIMEOUT_MS) },
      realtime: { transport: NoRealtimeTransport as unknown as RealtimeTransport },
    });
  }

  /** Maps a PostgREST error: a rule refusal, or a retryable Error naming the operation and host. */
  private fail(operation: string, error: PostgrestErrorBody): Error {
    const refused = constraintErrorFromPostgrest(error);
    if (refused) return refused;
    const code = error.code ? `${error.code} ` : '';
    const hint = error.hint ? ` (${error.hint})` : '';
    const text = `supabase ${operation} failed on ${this.host}: ${code}${error.message ?? 'unknown error'}${hint}`;
    // Defence in depth: nothing we build includes the key, but a server could echo it back.
    return new Error(redact(text, this.secret));
  }

  async applyTransition(transition: JobTransition): Promise<TransitionOutcome> {
    const parsed = JobTransitionSchema.safeParse(transition);
    if (!parsed.success) throw invalidInput(`invalid job transition: ${describeZodError(parsed.error)}`);
    const t = parsed.data;
    const { data, error } = await this.client.rpc('apply_job_transition', {
      p_job_id: t.jobId,
      p_seq: t.seq,
      p_status: t.status,
      p_workflow_id: t.workflowId,
      p_attempt: t.attempt,
      p_progress: t.progress,
      p_error: t.error,
      p_result: t.result,
      p_started_at: t.startedAt,
      p_completed_at: t.completedAt,
      p_job: t.job ?? null,
      p_next_attempt_at: t.nextAttemptAt ?? null,
      p_accepted_at: t.acceptedAt ?? null,
      p_priority: t.priority ?? null,
    });
    if (error) throw this.fail('applyTransition', error);
    return { applied: data === true };
  }

  async publishQueuePositions(positions: QueuePositionUpdate[]): Promise<PublishOutcome> {
    const { data, error } = await this.client.rpc('publish_queue_positions', {
      p_ids: positions.map((p) => p.jobId),
      p_positions: positions.map((p) => p.position),
      p_starts: positions.map((p) => p.estimatedStartAt),
      p_accepted: positions.map((p) => p.acceptedAt ?? null),
    });
    if (error) throw this.fail('publishQueuePositions', error);
    return parsePublishOutcome(data);
  }

  async getJob(jobId: string): Promise<JobRow | null> {
    requireUuid('jobId', jobId);
    const { data, error } = await this.client
      .from('jobs')
      .select(JOB_COLUMNS)
      .eq('id', jobId)
      .retry(false)
      .overrideTypes<JobDbRow[], { merge: false }>();
    if (error) throw this.fail('getJob', error);
    return data[0] ? jobRowFromDb(data[0]) : null;
  }

  async getJobs(jobIds: readonly string[]): Promise<JobRow[]> {
    requireJobIds(jobIds);
    if (jobIds.length === 0) return [];
    // 500 uuids are about 19 KB of query string: inside PostgREST's and proxies' URL limits.
    const { data, error } = await this.client
      .from('jobs')
      .select(JOB_COLUMNS)
      .in('id', [...jobIds])
      .retry(false)
      .overrideTypes<JobDbRow[], { merge: false }>();
    if (error) throw this.fail('getJobs', error);
    return data.map(jobRowFromDb);
  }

  async readQueueConfig(): Promise<Record<keyof QueueConfig, unknown>> {
    const { data, error } = await this.client
      .from('job_queue_config')
      .select('*')
      .eq('id', 1)
      .retry(false)
      .overrideTypes<Array<Record<string, unknown>>, { merge: false }>();
    if (error) throw this.fail('readQueueConfig', error);
    if (!data[0]) throw new Error('job_queue_config has no row (id = 1); run the migrations');
    return queueConfigFromDb(data[0]);
  }

  async listJobs(filter: JobListFilter = {}): Promise<JobRow[]> {
    const { status, priority, renderer, limit = 50, beforeCreatedAt } = parseListFilter(filter);
    let query = this.client.from('jobs').select(JOB_COLUMNS);
    if (status) query = query.eq('status', status);
    if (priority) query = query.eq('priority', priority);
    if (renderer) query = query.eq('renderer', renderer);
    if (beforeCreatedAt) query = query.lt('created_at', beforeCreatedAt);
    const { data, error } = await query
      .order('created_at', { ascending: false })
      .order('id', { ascending: false })
      .limit(limit)
      .retry(false)
      .overrideTypes<JobDbRow[], { merge: false }>();
    if (error) throw this.fail('listJobs', error);
    return data.map(jobRowFromDb);
  }

  async insertQueuedJob(job: QueuedJobInsert): Promise<JobRow> {
    if (job.id !== undefined) requireUuid('id', job.id);
    if (job.userId !== undefined) requireUuid('userId', job.userId);
    // Only the given keys, as the frontend sends them: the database supplies every default.
    const row = Object.fromEntries(
      Object.entries({
        id: job.id,
        job_type: job.jobType,
        priority: job.priority,
        renderer: job.renderer,
        payload: job.payload,
        user_id: job.userId,
      }).filter(([, value]) => value !== undefined),
    );
    const { data, error } = await this.client
      .from('jobs')
      .insert(row)
      .select(JOB_COLUMNS)
      .overrideTypes<JobDbRow[], { merge: false }>();
    if (error) throw this.fail('insertQueuedJob', error);
    if (!data[0]) throw new Error(`supabase insertQueuedJob on ${this.host} returned no row`);
    return jobRowFromDb(data[0]);
  }

  async getQueueStats(): Promise<QueueStats> {
    const { data, error } = await this.client.rpc('get_queue_stats');
    if (error) throw this.fail('getQueueStats', error);
    return parseQueueStats(data);
  }

  async claimIntakeJobs(limit: number): Promise<JobRow[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw invalidInput(`limit must be an integer between 1 and 1000, got ${JSON.stringify(limit)}`);
    }
    // Not retried on a lost response: the claim expires after 2 minutes and the next run re-claims.
    const { data, error } = await this.client
      .rpc('claim_intake_jobs', { p_limit: limit })
      .select(JOB_COLUMNS)
      .overrideTypes<JobDbRow[], { merge: false }>();
    if (error) throw this.fail('claimIntakeJobs', error);
    return data.map(jobRowFromDb);
  }

  async markIntakeStarted(jobId: string, workflowId: string): Promise<boolean> {
    requireUuid('jobId', jobId);
    if (!workflowId) throw invalidInput('workflowId is required');
    const { data, error } = await this.client.rpc('mark_intake_started', {
      p_id: jobId,
      p_workflow_id: workflowId,
    });
    if (error) throw this.fail('markIntakeStarted', error);
    return data === true;
  }

  async markIntakeRejected(jobId: string, reason: string): Promise<boolean> {
    requireUuid('jobId', jobId);
    const { data, error } = await this.client.rpc('mark_intake_rejected', { p_id: jobId, p_error: reason });
    if (error) throw this.fail('markIntakeRejected', error);
    return data === true;
  }

  async requeueRejectedJob(jobId: string): Promise<boolean> {
    requireUuid('jobId', jobId);
    const { data, error } = await this.client.rpc('requeue_rejected_job', { p_id: jobId });
    if (error) throw this.fail('requeueRejectedJob', error);
    return data === true;
  }

  /** Nothing to release: supabase-js holds no connection (fetch's keep-alive sockets idle out). */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
