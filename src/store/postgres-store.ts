/**
 * JobStore over a direct Postgres connection (pg Pool) or embedded PGlite. A thin transport:
 * every rule about job state lives in the SQL of supabase/migrations.
 */
import { JOB_STATUSES, PRIORITIES, RENDERERS } from '../shared/constants';
import { describeZodError, JobTransitionSchema, QueueStatsSchema } from '../shared/job-schema';
import type { JobRow, JobTransition, QueueConfig, QueueStats } from '../shared/job-schema';
import { JobStoreConstraintError } from './job-store';
import type {
  JobListFilter,
  JobStore,
  PublishOutcome,
  QueuePositionUpdate,
  QueuedJobInsert,
  TransitionOutcome,
} from './job-store';
import { invalidInput, parseListFilter, requireJobIds, requireUuid } from './input-checks';
import type { Queryable } from './migrate';

const JOB_COLUMNS = `id, user_id, job_type, priority, renderer, status, payload, retry_count, progress,
  error, result, queue_position, estimated_start_at, next_attempt_at, accepted_at, workflow_id, sync_seq, created_at,
  started_at, completed_at, updated_at`;

export interface JobDbRow {
  id: string;
  user_id: string | null;
  job_type: string;
  priority: JobRow['priority'];
  renderer: JobRow['renderer'];
  status: JobRow['status'];
  payload: Record<string, unknown>;
  retry_count: number | string;
  progress: number | string | null;
  error: string | null;
  result: string | null;
  queue_position: number | string | null;
  estimated_start_at: Date | string | null;
  next_attempt_at: Date | string | null;
  accepted_at: Date | string | null;
  workflow_id: string | null;
  sync_seq: number | string;
  created_at: Date | string;
  started_at: Date | string | null;
  completed_at: Date | string | null;
  updated_at: Date | string;
}

/** pg returns bigint and numeric as strings; PGlite returns some as numbers. */
function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function toNullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

/** `new Date(x)` rather than `instanceof Date`: PGlite's Dates may come from another realm (see open-store). */
function toIso(value: Date | string): string {
  return new Date(value).toISOString();
}

function toNullableIso(value: Date | string | null): string | null {
  return value === null ? null : toIso(value);
}

/** Maps a `jobs` row (snake_case, driver types) to the read model's JobRow. */
export function jobRowFromDb(row: JobDbRow): JobRow {
  return {
    id: row.id,
    userId: row.user_id,
    jobType: row.job_type,
    priority: row.priority,
    renderer: row.renderer,
    status: row.status,
    payload: row.payload,
    retryCount: toNumber(row.retry_count),
    progress: toNullableNumber(row.progress),
    error: row.error,
    result: row.result,
    queuePosition: toNullableNumber(row.queue_position),
    estimatedStartAt: toNullableIso(row.estimated_start_at),
    nextAttemptAt: toNullableIso(row.next_attempt_at),
    acceptedAt: toNullableIso(row.accepted_at),
    workflowId: row.workflow_id,
    syncSeq: toNumber(row.sync_seq),
    createdAt: toIso(row.created_at),
    startedAt: toNullableIso(row.started_at),
    completedAt: toNullableIso(row.completed_at),
    updatedAt: toIso(row.updated_at),
  };
}

/** 'HH:MM:SS' from Postgres `time` -> 'HH:MM' (seconds kept only when they matter). */
function toClock(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return /^\d\d:\d\d:00$/.test(value) ? value.slice(0, 5) : value;
}

/** Maps the `job_queue_config` row to QueueConfig's keys, converting types but not validating. */
export function queueConfigFromDb(row: Record<string, unknown>): Record<keyof QueueConfig, unknown> {
  const num = (value: unknown) => (typeof value === 'string' ? Number(value) : value);
  return {
    maxConcurrentRenders: num(row.max_concurrent_renders),
    maxManimRenders: num(row.max_manim_renders),
    peakHourStart: toClock(row.peak_hour_start),
    peakHourEnd: toClock(row.peak_hour_end),
    peakWorkerMultiplier: num(row.peak_worker_multiplier),
    timeZone: row.time_zone,
    jobTimeoutMinutes: num(row.job_timeout_minutes),
    retryIntervalMinutes: num(row.retry_interval_minutes),
    maxAttempts: num(row.max_attempts),
  };
}

const CHECK_MESSAGES: Record<string, string> = {
  jobs_priority_check: `priority must be one of ${PRIORITIES.join(', ')}`,
  jobs_renderer_check: `renderer must be one of ${RENDERERS.join(', ')}`,
  jobs_status_check: `status must be one of ${JOB_STATUSES.join(', ')}`,
  jobs_payload_check: 'payload must be a JSON object',
  jobs_progress_check: 'progress must be between 0 and 1',
  job_types_default_renderer_check: `default_renderer must be one of ${RENDERERS.join(', ')}`,
};

interface DbErrorFields {
  code?: string;
  constraint?: string;
  column?: string;
  detail?: string;
  message: string;
}

/**
 * Turns a database refusal (check, foreign key, not null, bad literal, missing row) into a
 * JobStoreConstraintError whose message names the field; returns undefined for anything else
 * (connection loss, timeouts), which callers should treat as transient.
 */
export function constraintErrorFromDb(error: unknown): JobStoreConstraintError | undefined {
  // Duck-typed: PGlite's errors may come from another realm, where `instanceof Error` is false.
  if (typeof error !== 'object' || error === null || typeof (error as DbErrorFields).message !== 'string') {
    return undefined;
  }
  const { code, constraint, column, detail, message } = error as DbErrorFields;
  const make = (text: string) => {
    const mapped = new JobStoreConstraintError(text, constraint);
    (mapped as Error).cause = error;
    return mapped;
  };
  switch (code) {
    case '23514':
      return make((constraint && CHECK_MESSAGES[constraint]) ?? message);
    case '23503': {
      const value = /^Key \(job_type\)=\((.*)\) is not present/.exec(detail ?? '')?.[1];
      return make(value !== undefined ? `job_type "${value}" is not a known job type` : message);
    }
    case '23502':
      return make(column ? `${column} is required` : message);
    case '23505':
      return make(constraint === 'jobs_pkey' ? 'a job with this id already exists' : message);
    // 22P05: a NUL in text or jsonb; no retry can store it, so it must not be retried as an outage.
    case '22P02':
    case '22P05':
      return make(`invalid value: ${message}`);
    case 'P0002':
      return make(message);
    default:
      return undefined;
  }
}

/** Validates `get_queue_stats()` output (jsonb: an object from pg/PGlite/PostgREST, text from some drivers). */
export function parseQueueStats(raw: unknown): QueueStats {
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  const parsed = QueueStatsSchema.safeParse(value);
  if (!parsed.success)
    throw new Error(`get_queue_stats() returned an unexpected shape: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** `publish_queue_positions()` output (jsonb: an object from pg/PGlite/PostgREST, text from some drivers). */
export function parsePublishOutcome(raw: unknown): PublishOutcome {
  const value = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown> | null;
  const count = (key: string) => {
    const n = Number(value?.[key]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`publish_queue_positions() returned no ${key} count`);
    return n;
  };
  return { written: count('written'), cleared: count('cleared'), missing: count('missing') };
}

export interface PostgresJobStoreOptions {
  /** Releases the connection (pool.end / pglite.close); called once by close(). */
  onClose?: () => Promise<void>;
}

export class PostgresJobStore implements JobStore {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly options: PostgresJobStoreOptions = {},
  ) {}

  private async run<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.db.query<T>(sql, params)).rows;
    } catch (error) {
      throw constraintErrorFromDb(error) ?? error;
    }
  }

  async applyTransition(transition: JobTransition): Promise<TransitionOutcome> {
    const parsed = JobTransitionSchema.safeParse(transition);
    if (!parsed.success) throw invalidInput(`invalid job transition: ${describeZodError(parsed.error)}`);
    const t = parsed.data;
    const rows = await this.run<{ applied: boolean }>(
      `SELECT apply_job_transition($1::uuid, $2::bigint, $3::text, $4::text, $5::int, $6::real, $7::text,
         $8::text, $9::timestamptz, $10::timestamptz, $11::jsonb, $12::timestamptz, $13::timestamptz,
         $14::text) AS applied`,
      [
        t.jobId,
        t.seq,
        t.status,
        t.workflowId,
        t.attempt,
        t.progress,
        t.error,
        t.result,
        t.startedAt,
        t.completedAt,
        t.job ? JSON.stringify(t.job) : null,
        t.nextAttemptAt ?? null,
        t.acceptedAt ?? null,
        t.priority ?? null,
      ],
    );
    return { applied: rows[0]?.applied === true };
  }

  async publishQueuePositions(positions: QueuePositionUpdate[]): Promise<PublishOutcome> {
    const rows = await this.run<{ outcome: unknown }>(
      'SELECT publish_queue_positions($1::uuid[], $2::int[], $3::timestamptz[], $4::timestamptz[]) AS outcome',
      [
        positions.map((p) => p.jobId),
        positions.map((p) => p.position),
        positions.map((p) => p.estimatedStartAt),
        positions.map((p) => p.acceptedAt ?? null),
      ],
    );
    return parsePublishOutcome(rows[0]?.outcome);
  }

  async getJob(jobId: string): Promise<JobRow | null> {
    requireUuid('jobId', jobId);
    const rows = await this.run<JobDbRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [jobId]);
    return rows[0] ? jobRowFromDb(rows[0]) : null;
  }

  async getJobs(jobIds: readonly string[]): Promise<JobRow[]> {
    requireJobIds(jobIds);
    if (jobIds.length === 0) return [];
    const rows = await this.run<JobDbRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::uuid[])`, [
      [...jobIds],
    ]);
    return rows.map(jobRowFromDb);
  }

  async readQueueConfig(): Promise<Record<keyof QueueConfig, unknown>> {
    const rows = await this.run<Record<string, unknown>>('SELECT * FROM job_queue_config WHERE id = 1');
    if (!rows[0]) throw new Error('job_queue_config has no row (id = 1); run the migrations');
    return queueConfigFromDb(rows[0]);
  }

  async listJobs(filter: JobListFilter = {}): Promise<JobRow[]> {
    const { status, priority, renderer, limit = 50, beforeCreatedAt } = parseListFilter(filter);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (status) add('status = ?', status);
    if (priority) add('priority = ?', priority);
    if (renderer) add('renderer = ?', renderer);
    if (beforeCreatedAt) add('created_at < ?::timestamptz', beforeCreatedAt);
    params.push(limit);
    const rows = await this.run<JobDbRow>(
      `SELECT ${JOB_COLUMNS} FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(jobRowFromDb);
  }

  async insertQueuedJob(job: QueuedJobInsert): Promise<JobRow> {
    if (job.id !== undefined) requireUuid('id', job.id);
    if (job.userId !== undefined) requireUuid('userId', job.userId);
    // Only the given columns, like a PostgREST insert: the database supplies every default.
    const columns: Array<[string, unknown, string]> = [
      ['id', job.id, '::uuid'],
      ['job_type', job.jobType, ''],
      ['priority', job.priority, ''],
      ['renderer', job.renderer, ''],
      ['payload', job.payload === undefined ? undefined : JSON.stringify(job.payload), '::jsonb'],
      ['user_id', job.userId, '::uuid'],
    ];
    const given = columns.filter(([, value]) => value !== undefined);
    const rows = await this.run<JobDbRow>(
      `INSERT INTO jobs (${given.map(([name]) => name).join(', ')})
       VALUES (${given.map(([, , cast], i) => `$${i + 1}${cast}`).join(', ')})
       RETURNING ${JOB_COLUMNS}`,
      given.map(([, value]) => value),
    );
    return jobRowFromDb(rows[0]!);
  }

  async getQueueStats(): Promise<QueueStats> {
    const rows = await this.run<{ stats: unknown }>('SELECT get_queue_stats() AS stats');
    return parseQueueStats(rows[0]?.stats);
  }

  async claimIntakeJobs(limit: number): Promise<JobRow[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw invalidInput(`limit must be an integer between 1 and 1000, got ${JSON.stringify(limit)}`);
    }
    const rows = await this.run<JobDbRow>(
      `SELECT ${JOB_COLUMNS} FROM claim_intake_jobs($1::int) ORDER BY job_priority_rank(priority), created_at, id`,
      [limit],
    );
    return rows.map(jobRowFromDb);
  }

  async markIntakeStarted(jobId: string, workflowId: string): Promise<boolean> {
    requireUuid('jobId', jobId);
    if (!workflowId) throw invalidInput('workflowId is required');
    const rows = await this.run<{ marked: boolean }>(
      'SELECT mark_intake_started($1::uuid, $2::text) AS marked',
      [jobId, workflowId],
    );
    return rows[0]?.marked === true;
  }

  async markIntakeRejected(jobId: string, reason: string): Promise<boolean> {
    requireUuid('jobId', jobId);
    const rows = await this.run<{ marked: boolean }>(
      'SELECT mark_intake_rejected($1::uuid, $2::text) AS marked',
      [jobId, reason],
    );
    return rows[0]?.marked === true;
  }

  async requeueRejectedJob(jobId: string): Promise<boolean> {
    requireUuid('jobId', jobId);
    const rows = await this.run<{ requeued: boolean }>('SELECT requeue_rejected_job($1::uuid) AS requeued', [
      jobId,
    ]);
    return rows[0]?.requeued === true;
  }

  close(): Promise<void> {
    this.closing ??= this.options.onClose?.() ?? Promise.resolve();
    return this.closing;
  }
}
