-- Read-model features: queue positions and estimated waits, get_queue_stats(), and the intake
-- of rows the frontend inserts. Row-level security is in the next migration.
--
-- Every function here is callable the same way by the pg/PGlite adapter and by PostgREST
-- (supabase-js .rpc): scalar parameters, jsonb or setof jobs results.

-- ---------------------------------------------------------------------------------------------
-- Dispatch order
-- ---------------------------------------------------------------------------------------------

-- high < medium < low, so an ascending sort is dispatch order. No SET clause and no table
-- reference, so the planner inlines it (a function with SET is called per row, 10x slower).
create or replace function job_priority_rank(p_priority text) returns int
language sql immutable parallel safe
as $$
  select case p_priority when 'high' then 0 when 'medium' then 1 else 2 end;
$$;

-- The queue in dispatch order, read by the window function of refresh_queue_positions(); partial,
-- so its size is the queue's, not the table's.
create index if not exists jobs_queue_order_idx
  on jobs (job_priority_rank(priority), created_at, id) where status = 'queued';

-- Intake: frontend rows no workflow has picked up yet.
create index if not exists jobs_intake_idx
  on jobs (job_priority_rank(priority), created_at) where status = 'queued' and workflow_id is null;

-- ---------------------------------------------------------------------------------------------
-- Caps in force
-- ---------------------------------------------------------------------------------------------

-- The caps in force now, computed exactly as src/capacity/peak-hours.ts effectiveCaps does:
-- peak hours ([start, end) on the wall clock of time_zone; end < start crosses midnight; start =
-- end means never) raise the total cap to floor(max_concurrent_renders * multiplier); the Manim
-- cap is never raised and never exceeds the total. The config row is not range-checked (see the
-- core migration), so a bad value falls back to a safe one here instead of breaking every
-- insert: caps below 1 count as 1, an unknown time zone means "not peak".
create or replace function queue_caps_in_force() returns table (total_cap int, manim_cap int, peak boolean)
language plpgsql stable
rows 1 -- tells the planner: one row, so the recompute below is costed (and never JIT-compiled) as it is
set search_path = public, pg_temp
as $$
declare
  c job_queue_config%rowtype;
  v_local time;
  v_peak boolean := false;
  v_total int;
begin
  select * into c from job_queue_config where id = 1;
  if not found then
    c.max_concurrent_renders := 10;
    c.max_manim_renders := 4;
    c.peak_hour_start := '00:00';
    c.peak_hour_end := '00:00';
  end if;
  begin
    v_local := (now() at time zone c.time_zone)::time;
    v_peak := case
      when c.peak_hour_start = c.peak_hour_end then false
      when c.peak_hour_start < c.peak_hour_end
        then v_local >= c.peak_hour_start and v_local < c.peak_hour_end
      else v_local >= c.peak_hour_start or v_local < c.peak_hour_end
    end;
  exception when others then
    v_peak := false; -- unknown time zone: the application reports it; here, no boost
  end;
  v_total := greatest(coalesce(c.max_concurrent_renders, 10), 1);
  if v_peak and coalesce(c.peak_worker_multiplier, 1) > 1 then
    v_total := floor(v_total * c.peak_worker_multiplier)::int;
  end if;
  total_cap := v_total;
  manim_cap := least(greatest(coalesce(c.max_manim_renders, 4), 1), v_total);
  peak := v_peak;
  return next;
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Queue positions and estimated waits
-- ---------------------------------------------------------------------------------------------

-- Arbitrary constant for pg_advisory_xact_lock: every transaction that changes the queue takes it
-- before it locks any jobs row, and holds it to commit (first 8 bytes of sha1('render-queue:queue')).
create or replace function queue_lock_key() returns bigint
language sql immutable
as $$ select 7253690716733251607::bigint $$;

-- Recomputes queue_position and estimated_wait_seconds of every queued job in one UPDATE that
-- writes only the rows whose values changed (and clears rows that left the queue). Returns the
-- number of rows written.
--
-- queue_position = 1 + queued jobs ahead (higher priority, or same priority and earlier
-- created_at, then id).
--
-- estimated_wait_seconds: renders run in "waves" of `cap` at a time. A job with k jobs ahead of
-- it in its capacity pool, while `busy` renders of that pool are in flight, starts after
-- floor((busy + k) / cap) renders per slot have finished, each taking the recent average
-- duration of its renderer (completed_at - started_at over the last hour; 60 s when none):
--     wait = floor((busy + k) / cap) * avg_duration(renderer)
--   * revideo/orchestrator jobs compete for the total cap with every job ahead (k = position - 1,
--     busy = all renders in flight);
--   * a Manim job needs a Manim slot and a total slot, so it waits for whichever pool frees up
--     later: max(floor((busy_manim + k_manim) / manim_cap), floor((busy + k) / total_cap)).
-- The caps are those in force now, peak hours included (queue_caps_in_force). Waits grow with
-- the position, shrink when a cap grows, and are 0 while a slot is free. The average duration
-- and peak hours drift with the clock; they are refreshed on the next change of the queue or the
-- config (or by calling this function).
--
-- Concurrency: taken under the queue advisory lock, and in READ COMMITTED each statement here
-- takes a fresh snapshot after the lock is granted, so the last recompute to run sees every
-- committed change. Writers take the lock before locking rows (jobs_queue_lock trigger,
-- apply_job_transition), so this UPDATE never waits on a writer that waits on it.
--
-- Rows leaving the queue are cleared in their own write by jobs_clear_position (below), so this
-- statement only ever reads and writes queued rows. JIT is off: compiling this plan costs more
-- than running it (hundreds of ms at 10,000 rows).
create or replace function refresh_queue_positions() returns int
language plpgsql
security definer
set search_path = public, pg_temp
set jit = off
as $$
declare
  v_written int;
begin
  perform pg_advisory_xact_lock(queue_lock_key());
  with caps as (
    select * from queue_caps_in_force()
  ),
  durations as (
    select renderer, avg(extract(epoch from completed_at - started_at))::float8 as seconds
    from jobs
    where status = 'completed' and completed_at >= now() - interval '1 hour' and started_at is not null
    group by renderer
  ),
  busy as (
    select count(*) as total, count(*) filter (where renderer = 'manim') as manim
    from jobs where status = 'processing'
  ),
  ranked as (
    select id, renderer,
           row_number() over w as pos,
           coalesce(count(*) filter (where renderer = 'manim') over (w rows between unbounded preceding and 1 preceding), 0)
             as manim_ahead
    from jobs
    where status = 'queued'
    window w as (order by job_priority_rank(priority), created_at, id)
  ),
  target as (
    select r.id, r.pos::int as pos,
           -- Integer division is the floor here (no negatives); float math keeps 10,000 rows cheap.
           ceil(
             case when r.renderer = 'manim'
               then greatest((b.manim + r.manim_ahead) / c.manim_cap, (b.total + r.pos - 1) / c.total_cap)
               else (b.total + r.pos - 1) / c.total_cap
             end * coalesce(d.seconds, 60)
           )::int as wait
    from ranked r
    cross join caps c
    cross join busy b
    left join durations d on d.renderer = r.renderer
  )
  update jobs j
  set queue_position = t.pos, estimated_wait_seconds = t.wait
  from target t
  where j.id = t.id
    and (j.queue_position is distinct from t.pos or j.estimated_wait_seconds is distinct from t.wait);
  get diagnostics v_written = row_count;
  return v_written;
end;
$$;

-- A row leaving the queue drops its position and estimate in the same write (no second UPDATE,
-- no scan for stale rows); a row inserted in another status never carries one.
create or replace function jobs_clear_position() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  new.queue_position := null;
  new.estimated_wait_seconds := null;
  return new;
end;
$$;

create or replace trigger jobs_clear_position
  before insert or update of status on jobs
  for each row
  when (new.status <> 'queued' and (new.queue_position is not null or new.estimated_wait_seconds is not null))
  execute function jobs_clear_position();

-- Lock ordering: a statement that may change the queue takes the queue lock before it locks any
-- row, so it can never hold a row that a running recompute needs while waiting for that recompute.
create or replace function jobs_queue_lock() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  perform pg_advisory_xact_lock(queue_lock_key());
  return null;
end;
$$;

-- Marks the transaction's queue as changed; the statement trigger below recomputes once.
create or replace function jobs_queue_mark_changed() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  perform set_config('render_queue.queue_changed', 'on', true);
  return null;
end;
$$;

create or replace function jobs_queue_refresh() returns trigger
language plpgsql
security definer
set search_path = public, pg_temp
as $$
begin
  -- Inserts and deletes always change the queue (or the in-flight count / averages); an update
  -- only when a row trigger saw a status or priority actually change (progress writes do not).
  if tg_op = 'UPDATE' and coalesce(current_setting('render_queue.queue_changed', true), '') <> 'on' then
    return null;
  end if;
  perform set_config('render_queue.queue_changed', '', true);
  perform refresh_queue_positions();
  return null;
end;
$$;

create or replace trigger jobs_queue_lock
  before insert or delete or update of status, priority on jobs
  for each statement execute function jobs_queue_lock();

create or replace trigger jobs_queue_mark_changed
  after update of status, priority on jobs
  for each row
  when (old.status is distinct from new.status or old.priority is distinct from new.priority)
  execute function jobs_queue_mark_changed();

-- Statement level: a bulk insert or update recomputes once, not once per row. Row-level AFTER
-- events of a statement fire before its statement-level AFTER event, so the mark is set by then.
create or replace trigger jobs_queue_refresh
  after insert or delete or update of status, priority on jobs
  for each statement execute function jobs_queue_refresh();

-- The caps change the estimates: recompute when the config row changes.
create or replace function job_queue_config_refresh() returns trigger
language plpgsql
security definer
set search_path = public, pg_temp
as $$
begin
  perform refresh_queue_positions();
  return null;
end;
$$;

create or replace trigger job_queue_config_refresh
  after update on job_queue_config
  for each statement execute function job_queue_config_refresh();

-- apply_job_transition locks the job's row (SELECT ... FOR UPDATE) before its UPDATE fires
-- jobs_queue_lock; taking the queue lock first keeps the lock order above. The core function is
-- kept as is under another name and wrapped, so its rules stay in one place.
do $$
begin
  if to_regprocedure('apply_job_transition_unlocked(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb)') is null then
    alter function apply_job_transition(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb)
      rename to apply_job_transition_unlocked;
  end if;
end;
$$;

create or replace function apply_job_transition(
  p_job_id uuid,
  p_seq bigint,
  p_status text,
  p_workflow_id text,
  p_attempt int,
  p_progress real,
  p_error text,
  p_result text,
  p_started_at timestamptz,
  p_completed_at timestamptz,
  p_job jsonb
) returns boolean
language plpgsql
security invoker
set search_path = public, pg_temp
as $$
begin
  perform pg_advisory_xact_lock(queue_lock_key());
  return apply_job_transition_unlocked(p_job_id, p_seq, p_status, p_workflow_id, p_attempt, p_progress,
    p_error, p_result, p_started_at, p_completed_at, p_job);
end;
$$;

-- Rows inserted before this migration get their positions now.
select refresh_queue_positions();

-- ---------------------------------------------------------------------------------------------
-- Stats
-- ---------------------------------------------------------------------------------------------

-- One call for the dashboard and the CLI. Keys are camelCase (they are read by TypeScript, see
-- QueueStatsSchema); every status, priority and renderer is present, with 0 when none.
create or replace function get_queue_stats() returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
  with
  statuses as (select unnest(array['queued', 'processing', 'completed', 'failed', 'cancelled']) as s),
  priorities as (select unnest(array['high', 'medium', 'low']) as p),
  renderers as (select unnest(array['manim', 'revideo', 'orchestrator']) as r),
  hour as (
    select
      avg(extract(epoch from started_at - created_at)) filter (where started_at >= now() - interval '1 hour')
        as avg_wait,
      avg(extract(epoch from completed_at - started_at))
        filter (where status = 'completed' and completed_at >= now() - interval '1 hour') as avg_render,
      count(*) filter (where status = 'completed' and completed_at >= now() - interval '1 hour') as completed,
      count(*) filter (where status = 'failed' and completed_at >= now() - interval '1 hour') as failed
    from jobs
    where started_at >= now() - interval '1 hour' or completed_at >= now() - interval '1 hour'
  ),
  cfg as (select * from queue_caps_in_force())
  select jsonb_build_object(
    'byStatus', (select jsonb_object_agg(s, (select count(*) from jobs where status = s)) from statuses),
    'queuedByPriority',
      (select jsonb_object_agg(p, (select count(*) from jobs where status = 'queued' and priority = p)) from priorities),
    'processingByRenderer',
      (select jsonb_object_agg(r, (select count(*) from jobs where status = 'processing' and renderer = r)) from renderers),
    'lastHour', (select jsonb_build_object(
      'avgWaitSeconds', round(avg_wait::numeric, 3),
      'avgRenderSeconds', round(avg_render::numeric, 3),
      'completed', completed,
      'failed', failed) from hour),
    'oldestQueuedAgeSeconds',
      (select round(extract(epoch from now() - min(created_at))::numeric, 3) from jobs where status = 'queued'),
    'caps', (select jsonb_build_object('totalRenders', total_cap, 'manimRenders', manim_cap, 'peak', peak) from cfg),
    'generatedAt', to_jsonb(now())
  );
$$;

-- ---------------------------------------------------------------------------------------------
-- Intake of frontend-inserted rows
-- ---------------------------------------------------------------------------------------------

-- Claims up to p_limit queued rows that no workflow has picked up, in dispatch order. A claim
-- expires after 2 minutes, so rows claimed by an intake run that crashed are picked up again
-- (starting a job's workflow is idempotent: its id is derived from the job id). SKIP LOCKED lets
-- two intake runs claim disjoint rows instead of waiting on each other.
create or replace function claim_intake_jobs(p_limit int) returns setof jobs
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    raise exception 'limit must be between 1 and 1000, got %', p_limit using errcode = 'check_violation';
  end if;
  return query
    update jobs set claimed_at = now()
    where id in (
      select id from jobs
      where status = 'queued' and workflow_id is null
        and (claimed_at is null or claimed_at < now() - interval '2 minutes')
      order by job_priority_rank(priority), created_at, id
      for update skip locked
      limit p_limit
    )
    returning *;
end;
$$;

-- Records the workflow that now owns the row. Returns false when a workflow id was already set
-- (the workflow's own first sync may land first; it writes the same id).
create or replace function mark_intake_started(p_id uuid, p_workflow_id text) returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if p_workflow_id is null or p_workflow_id = '' then
    raise exception 'workflow id is required' using errcode = 'not_null_violation', column = 'workflow_id';
  end if;
  update jobs set workflow_id = p_workflow_id where id = p_id and workflow_id is null;
  return found;
end;
$$;

-- Fails a row intake refused (invalid job), with the reason. Only a row still queued and not
-- owned by a workflow: a job that is running is never failed from here.
create or replace function mark_intake_rejected(p_id uuid, p_error text) returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
begin
  update jobs
  set status = 'failed', error = coalesce(p_error, 'rejected by intake'), completed_at = now()
  where id = p_id and status = 'queued' and workflow_id is null;
  return found;
end;
$$;
