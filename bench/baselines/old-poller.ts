/**
 * The Phase-2 poller this project replaces, rebuilt from the platform team's description of it
 * so it can be measured on the same machine, database schema and renderers:
 *   - a Node process polls the `jobs` table every `intervalMs` (60 s in production);
 *   - each poll first fails/re-queues renders past the timeout (10 min), then claims queued rows
 *     by priority, then age, up to the free capacity: cap 10 (x1.5 from 06:00 to 21:00 in the
 *     configured zone), Manim 4 — counted from rows in `processing`, so a crashed poller's rows
 *     hold their slots until they time out;
 *   - each claimed row is rendered over HTTP (submit, then poll the renderer), in-process;
 *   - a failed or timed-out attempt is re-queued up to max_attempts, claimable again only after
 *     the retry interval (5 min) — all in the row, so a restarted poller honours it;
 *   - after every change, `update_queue_positions()` rewrites the position and estimate of EVERY
 *     queued row, as the old SQL function did.
 * Policy values come from `job_queue_config`, read on every poll; overrides exist for the bench.
 */
import { effectiveCaps } from '../../src/capacity/peak-hours';
import type { RendererAdapter } from '../../src/renderers/http-client';
import type { Renderer } from '../../src/shared/constants';
import { errorMessage } from '../../src/shared/error-message';
import type { Queryable } from '../../src/store/migrate';

export interface OldPollerOptions {
  db: Queryable;
  renderers: Record<Renderer, RendererAdapter>;
  /** Between polls of the jobs table; 60 000 in production. */
  intervalMs: number;
  /** Between status calls to a renderer for one render. */
  renderPollMs: number;
  /** Overrides job_queue_config (the bench scales the 10-minute timeout down to see it fire). */
  timeoutMs?: number;
  retryIntervalMs?: number;
  /** Dispatch starts only on resume(). */
  paused?: boolean;
  now?: () => Date;
  /** Structured log sink; silent by default. */
  log?: (fields: Record<string, unknown>) => void;
}

/** The old `update_queue_positions()`: every queued row rewritten, whether its position changed or not. */
export const UPDATE_QUEUE_POSITIONS = `
  with ranked as (
    select id, row_number() over (order by job_priority_rank(priority), created_at, id) as pos
    from jobs where status = 'queued'
  ), caps as (select * from queue_caps_in_force())
  update jobs j set queue_position = r.pos,
    estimated_start_at = now() + make_interval(mins => floor((r.pos - 1)::numeric / caps.total_cap)::int)
  from ranked r, caps where j.id = r.id`;

/** PostgreSQL's SQLSTATE for a transaction chosen as a deadlock victim. */
const DEADLOCK_DETECTED = '40P01';

interface ConfigRow {
  max_concurrent_renders: number | string;
  max_manim_renders: number | string;
  peak_hour_start: string;
  peak_hour_end: string;
  peak_worker_multiplier: number | string;
  time_zone: string;
  job_timeout_minutes: number | string;
  retry_interval_minutes: number | string;
  max_attempts: number | string;
}

interface Claimed {
  id: string;
  renderer: Renderer;
  job_type: string;
  payload: Record<string, unknown>;
  attempt: number;
  claimed_at: string;
}

export interface OldPoller {
  resume(): void;
  /** One poll, now (tests). */
  tick(): Promise<void>;
  stop(): Promise<void>;
  /** Renders this process is running right now. */
  inFlight(): number;
}

export async function startOldPoller(options: OldPollerOptions): Promise<OldPoller> {
  const { db } = options;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  let stopped = false;
  let paused = options.paused ?? false;

  async function readPolicy() {
    const { rows } = await db.query<ConfigRow>('select * from job_queue_config where id = 1');
    const row = rows[0];
    if (!row) throw new Error('job_queue_config: the policy row (id = 1) is missing');
    const caps = effectiveCaps(
      {
        maxConcurrentRenders: Number(row.max_concurrent_renders),
        maxManimRenders: Number(row.max_manim_renders),
        peakHourStart: row.peak_hour_start.slice(0, 5),
        peakHourEnd: row.peak_hour_end.slice(0, 5),
        peakWorkerMultiplier: Number(row.peak_worker_multiplier),
        timeZone: row.time_zone,
      },
      now(),
    );
    return {
      caps,
      timeoutMs: options.timeoutMs ?? Number(row.job_timeout_minutes) * 60_000,
      retryIntervalMs: options.retryIntervalMs ?? Number(row.retry_interval_minutes) * 60_000,
      maxAttempts: Number(row.max_attempts),
    };
  }

  type Policy = Awaited<ReturnType<typeof readPolicy>>;
  /**
   * The rewrite locks every queued row while a claim or another rewrite locks them in another
   * order, so PostgreSQL may pick it as a deadlock victim: it is retried. A rewrite that still fails
   * is logged, never thrown into a render (the next one rewrites everything anyway). Each caller
   * waits for its own rewrite, as the old poller did: joining one in flight would delay a claim's
   * renders behind other renders' rewrites, which the old poller never did.
   */
  async function updatePositions(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await db.query(UPDATE_QUEUE_POSITIONS);
        return;
      } catch (err) {
        if ((err as { code?: string }).code === DEADLOCK_DETECTED && attempt < 5) {
          // Apart, so renders that ended together do not collide again.
          await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40 * attempt));
          continue;
        }
        log({ level: 'error', msg: 'queue position update failed', error: errorMessage(err) });
        return;
      }
    }
  }

  /**
   * Re-queues (or fails, out of attempts) an attempt; ignored when the row was re-claimed since.
   * The retry gate is a time of its own (next_attempt_at): the full position rewrite touches
   * every queued row, so a gate on updated_at would keep moving and starve a retry under load.
   */
  async function failAttempt(id: string, claimedAt: string | null, error: string, policy: Policy) {
    await db.query(
      `update jobs set
         status = case when attempt < $3 then 'queued' else 'failed' end,
         retry_count = attempt, error = $2,
         next_attempt_at = case when attempt < $3 then now() + make_interval(secs => $5) else null end,
         completed_at = case when attempt < $3 then null else now() end
       where id = $1 and status = 'processing' and ($4::timestamptz is null or claimed_at = $4::timestamptz)`,
      [id, error, policy.maxAttempts, claimedAt, policy.retryIntervalMs / 1000],
    );
  }

  async function render(job: Claimed, abort: AbortController, policy: Policy): Promise<void> {
    const renderer = options.renderers[job.renderer];
    try {
      const { renderId } = await renderer.submit(
        { jobId: job.id, jobType: job.job_type, attempt: job.attempt, payload: job.payload },
        abort.signal,
      );
      for (;;) {
        await abortableSleep(options.renderPollMs, abort.signal);
        const status = await renderer.status(renderId, abort.signal);
        if (status.status === 'completed') {
          await db.query(
            `update jobs set status = 'completed', result = $2, progress = 1, completed_at = now(), error = null
             where id = $1 and status = 'processing' and claimed_at = $3::timestamptz`,
            [job.id, status.videoUrl ?? null, job.claimed_at],
          );
          break;
        }
        if (status.status === 'failed') throw new Error(status.error ?? 'render failed');
      }
    } catch (err) {
      if (abort.signal.aborted) return; // timed out or stopping: the row is handled elsewhere
      await failAttempt(job.id, job.claimed_at, errorMessage(err), policy);
    }
    await updatePositions();
  }

  async function tick(): Promise<void> {
    const policy = await readPolicy();
    // 1. Timeouts: the only way a crashed poller's renders are ever noticed.
    const timedOut = await db.query<{ id: string }>(
      `select id from jobs where status = 'processing' and started_at < now() - make_interval(secs => $1)`,
      [policy.timeoutMs / 1000],
    );
    for (const { id } of timedOut.rows) {
      running.get(id)?.abort.abort();
      await failAttempt(id, null, `timed out after ${policy.timeoutMs / 60_000} min`, policy);
      log({ msg: 'render timed out', jobId: id });
    }
    // 2. Free capacity, counted from the table.
    const { rows: counts } = await db.query<{ total: number; manim: number }>(
      `select count(*)::int as total, (count(*) filter (where renderer = 'manim'))::int as manim
       from jobs where status = 'processing'`,
    );
    const free = Math.max(0, policy.caps.total - (counts[0]?.total ?? 0));
    const manimFree = Math.max(0, policy.caps.manim - (counts[0]?.manim ?? 0));
    let claimed: Claimed[] = [];
    if (free > 0) {
      // 3. Claim by priority, then age; Manim rows past the Manim cap are skipped, not blocking.
      const { rows } = await db.query<Claimed>(
        `with candidates as (
           select id, renderer, job_type, priority, created_at,
             row_number() over (partition by renderer = 'manim'
                                order by job_priority_rank(priority), created_at, id) as pool_rank
           from jobs
           where status = 'queued'
             and (next_attempt_at is null or next_attempt_at <= now())
         ), picked as (
           select id from candidates where renderer <> 'manim' or pool_rank <= $2
           order by job_priority_rank(priority), created_at, id limit $1
         )
         update jobs j set status = 'processing', started_at = now(), claimed_at = now(),
           next_attempt_at = null, attempt = j.retry_count + 1
         from picked where j.id = picked.id and j.status = 'queued'
         returning j.id, j.renderer, j.job_type, j.payload, j.attempt, j.claimed_at::text as claimed_at,
           j.priority, j.created_at`,
        [free, manimFree],
      );
      claimed = rows;
    }
    for (const job of claimed) {
      const abort = new AbortController();
      const done = render(job, abort, policy).finally(() => {
        if (running.get(job.id)?.abort === abort) running.delete(job.id);
      });
      running.set(job.id, { abort, done });
    }
    // After the starts: a claimed render does not wait for the whole queue's rewrite.
    if (claimed.length || timedOut.rows.length) await updatePositions();
  }

  function schedule(): void {
    if (stopped || paused) return;
    ticking = tick()
      .catch((err: unknown) => log({ level: 'error', msg: 'poll failed', error: errorMessage(err) }))
      .finally(() => {
        if (!stopped) timer = setTimeout(schedule, options.intervalMs);
      });
  }

  if (!paused) schedule();
  return {
    resume: () => {
      if (!paused) return;
      paused = false;
      schedule();
    },
    tick,
    inFlight: () => running.size,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await ticking;
      for (const { abort } of running.values()) abort.abort();
      await Promise.all([...running.values()].map((r) => r.done.catch(() => undefined)));
    },
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
