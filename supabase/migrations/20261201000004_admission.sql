-- Fleet-wide admission: the queue order and the caps live in the admission workflow, which
-- publishes queue positions and estimated start times; the database no longer recomputes them.
--
--   * status `retrying` (an attempt failed; the job waits for its next attempt, holding no slot),
--     ranked with `processing`, and `next_attempt_at`;
--   * `estimated_start_at`, a timestamp a screen can count down to, replaces the relative
--     `estimated_wait_seconds`;
--   * the per-change recompute of every queued row (triggers, advisory lock) is gone: positions
--     are written by publish_queue_positions(), changed rows only, at most about once a second.

-- ---------------------------------------------------------------------------------------------
-- Status `retrying`, next_attempt_at, estimated_start_at
-- ---------------------------------------------------------------------------------------------

alter table jobs drop constraint if exists jobs_status_check;
alter table jobs add constraint jobs_status_check
  check (status in ('queued', 'processing', 'retrying', 'completed', 'failed', 'cancelled'));

alter table jobs add column if not exists next_attempt_at timestamptz null;
alter table jobs add column if not exists estimated_start_at timestamptz null;
-- When admission accepted this run of the job into its queue: the order it is served in (FIFO
-- within a priority is by this), and a re-run's place, since created_at keeps the first run's.
alter table jobs add column if not exists accepted_at timestamptz null;

create or replace function job_status_rank(p_status text) returns int
language sql immutable
set search_path = public, pg_temp
as $$
  select case p_status
    when 'queued' then 0
    when 'processing' then 1
    when 'retrying' then 1 -- alternates with processing between attempts
    else 2 -- completed, failed, cancelled: terminal
  end;
$$;

-- ---------------------------------------------------------------------------------------------
-- The old recompute of every position, and its lock, go
-- ---------------------------------------------------------------------------------------------

drop trigger if exists jobs_queue_lock on jobs;
drop trigger if exists jobs_queue_mark_changed on jobs;
drop trigger if exists jobs_queue_refresh on jobs;
drop trigger if exists job_queue_config_refresh on job_queue_config;
drop function if exists jobs_queue_lock();
drop function if exists jobs_queue_mark_changed();
drop function if exists jobs_queue_refresh();
drop function if exists job_queue_config_refresh();
drop function if exists refresh_queue_positions();
drop function if exists queue_lock_key();
drop index if exists jobs_queue_order_idx;

-- The insert policy names every column a frontend insert must leave at its default; it mentions
-- estimated_wait_seconds, so it is replaced before that column goes.
drop policy if exists jobs_insert_own_queued on jobs;
drop trigger if exists jobs_clear_position on jobs;
alter table jobs drop column if exists estimated_wait_seconds;

create policy jobs_insert_own_queued on jobs
  for insert to anon, authenticated
  with check (
    user_id = auth.uid()
    and status = 'queued'
    and workflow_id is null and claimed_at is null
    and result is null and error is null and progress is null
    and queue_position is null and estimated_start_at is null and next_attempt_at is null
    and accepted_at is null
    and started_at is null and completed_at is null
    and sync_seq = 0 and attempt = 0 and retry_count = 0
  );

-- A job that stops waiting (its permit was granted, or it ended) drops its position in the same
-- write, so a row never shows a place in a queue it has left.
create or replace function jobs_clear_position() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  new.queue_position := null;
  new.estimated_start_at := null;
  return new;
end;
$$;

create trigger jobs_clear_position
  before insert or update of status on jobs
  for each row
  when (new.status not in ('queued', 'retrying')
        and (new.queue_position is not null or new.estimated_start_at is not null))
  execute function jobs_clear_position();

-- Rows holding a position, for clearing the ones that left the queue (few: the waiting jobs).
create index if not exists jobs_queue_position_idx on jobs (id) where queue_position is not null;

-- ---------------------------------------------------------------------------------------------
-- apply_job_transition, with next_attempt_at and without the queue lock
-- ---------------------------------------------------------------------------------------------

-- The single place where the service writes a job's state; the rules of the core migration hold
-- (sequence-guarded, rank-monotonic within a generation, a new generation resets the row), plus:
--   * next_attempt_at is set by `retrying` and cleared by every other status;
--   * accepted_at is kept once set within a generation;
--   * priority changes when a write carries one (an operator moved a waiting job).
-- The new parameters have defaults, so a worker from before this migration (11 arguments, during
-- a rolling deploy) still calls it.
drop function if exists apply_job_transition(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb);
drop function if exists apply_job_transition_unlocked(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb);

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
  p_job jsonb,
  p_next_attempt_at timestamptz default null,
  p_accepted_at timestamptz default null,
  p_priority text default null
) returns boolean
language plpgsql
security invoker
set search_path = public, pg_temp
as $$
declare
  v_row jobs%rowtype;
  v_created boolean;
  v_new_generation boolean;
  v_new_attempt boolean;
begin
  if p_job_id is null then
    raise exception 'job id is required' using errcode = 'not_null_violation', column = 'id';
  end if;
  if p_seq is null or p_seq < 1 then
    raise exception 'seq must be a positive integer, got %', p_seq
      using errcode = 'check_violation', column = 'sync_seq';
  end if;
  if p_attempt is null or p_attempt < 0 then
    raise exception 'attempt must be a non-negative integer, got %', p_attempt
      using errcode = 'check_violation', column = 'attempt';
  end if;

  -- Lock the row so concurrent writers of one job apply one at a time, each seeing the last.
  select * into v_row from jobs where id = p_job_id for update;

  if not found then
    if p_job is null then
      raise exception 'job % does not exist and the transition carries no job to create it from', p_job_id
        using errcode = 'no_data_found';
    end if;
    -- The job already runs: creating its row is the service recording it, not a new submission.
    perform set_config('render_queue.service_write', 'on', true);
    insert into jobs (
      id, user_id, job_type, priority, renderer, payload,
      status, sync_seq, workflow_id, attempt, retry_count, progress, error, result,
      started_at, completed_at, next_attempt_at, accepted_at, created_at
    ) values (
      p_job_id,
      (p_job ->> 'userId')::uuid,
      p_job ->> 'jobType',
      coalesce(p_priority, p_job ->> 'priority', 'medium'),
      p_job ->> 'renderer',
      coalesce(p_job -> 'payload', '{}'::jsonb),
      p_status, p_seq, p_workflow_id, p_attempt, greatest(p_attempt - 1, 0), p_progress, p_error, p_result,
      p_started_at, p_completed_at,
      case when p_status = 'retrying' then p_next_attempt_at end,
      p_accepted_at,
      -- Submission time, not the time the first write happened to land (writes may be delayed).
      coalesce((p_job ->> 'submittedAt')::timestamptz, now())
    )
    on conflict (id) do nothing;
    -- Read before the next statement: PERFORM sets FOUND too, and would hide a conflict.
    v_created := found;
    perform set_config('render_queue.service_write', '', true);
    if v_created then
      return true;
    end if;
    -- Another writer created the row meanwhile: wait for it, then apply the usual guards.
    select * into v_row from jobs where id = p_job_id for update;
  end if;

  if p_seq <= v_row.sync_seq then
    return false;
  end if;

  v_new_generation := p_seq / 1000000 > v_row.sync_seq / 1000000;

  if not v_new_generation then
    if job_status_rank(v_row.status) = 2 then
      return false;
    end if;
    if job_status_rank(p_status) < job_status_rank(v_row.status) then
      return false;
    end if;
  end if;

  v_new_attempt := v_new_generation or p_attempt <> v_row.attempt;

  update jobs set
    status = p_status,
    sync_seq = p_seq,
    workflow_id = case when v_new_generation then p_workflow_id
                       else coalesce(p_workflow_id, v_row.workflow_id) end,
    attempt = p_attempt,
    retry_count = greatest(p_attempt - 1, 0),
    progress = case
                 when p_status = 'completed' then coalesce(p_progress, 1)
                 when v_new_attempt then p_progress
                 else coalesce(p_progress, v_row.progress)
               end,
    error = case
              when v_new_generation or p_status = 'completed' then p_error
              else coalesce(p_error, v_row.error)
            end,
    result = case when v_new_generation then p_result else coalesce(p_result, v_row.result) end,
    started_at = case when v_new_generation then p_started_at
                      else coalesce(p_started_at, v_row.started_at) end,
    completed_at = case when v_new_generation then p_completed_at
                        else coalesce(p_completed_at, v_row.completed_at) end,
    next_attempt_at = case when p_status = 'retrying' then p_next_attempt_at end,
    accepted_at = case when v_new_generation then p_accepted_at
                       else coalesce(v_row.accepted_at, p_accepted_at) end,
    priority = coalesce(p_priority, v_row.priority),
    updated_at = now()
  where id = p_job_id;

  return true;
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Positions published by admission
-- ---------------------------------------------------------------------------------------------

-- Writes the position and estimated start of every waiting job, as the admission workflow's
-- queue has them (arrays in the same order), touching only rows whose values changed, and clears
-- them from rows that are no longer waiting. A waiting row also learns when admission accepted
-- it (kept once set). Returns {"written", "cleared", "missing"}; missing counts waiting jobs
-- without a row yet (their first sync has not landed).
create or replace function publish_queue_positions(
  p_ids uuid[],
  p_positions int[],
  p_starts timestamptz[],
  p_accepted timestamptz[] default null
)
returns jsonb
language plpgsql
set search_path = public, pg_temp
set jit = off -- compiling this plan costs more than running it
as $$
declare
  v_written int;
  v_cleared int;
  v_missing int;
begin
  if coalesce(array_length(p_ids, 1), 0) <> coalesce(array_length(p_positions, 1), 0)
     or coalesce(array_length(p_ids, 1), 0) <> coalesce(array_length(p_starts, 1), 0) then
    raise exception 'ids, positions and starts must have the same length'
      using errcode = 'check_violation';
  end if;

  update jobs j
  set queue_position = i.pos, estimated_start_at = i.eta, accepted_at = coalesce(j.accepted_at, i.accepted)
  from unnest(p_ids, p_positions, p_starts, coalesce(p_accepted, array[]::timestamptz[]))
    as i(id, pos, eta, accepted)
  where j.id = i.id and j.status in ('queued', 'retrying')
    and (j.queue_position is distinct from i.pos or j.estimated_start_at is distinct from i.eta
         or (j.accepted_at is null and i.accepted is not null));
  get diagnostics v_written = row_count;

  update jobs j set queue_position = null, estimated_start_at = null
  from (select id from jobs where queue_position is not null except select unnest(p_ids)) gone
  where j.id = gone.id;
  get diagnostics v_cleared = row_count;

  select count(*) into v_missing
  from unnest(p_ids) as i(id)
  where not exists (select 1 from jobs j where j.id = i.id);

  return jsonb_build_object('written', v_written, 'cleared', v_cleared, 'missing', v_missing);
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Intake claims come back in dispatch order (positions no longer order them)
-- ---------------------------------------------------------------------------------------------

create or replace function claim_intake_jobs(p_limit int) returns setof jobs
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    raise exception 'limit must be between 1 and 1000, got %', p_limit using errcode = 'check_violation';
  end if;
  return query
    with claimed as (
      update jobs set claimed_at = now()
      where id in (
        select id from jobs
        where status = 'queued' and workflow_id is null
          and (claimed_at is null or claimed_at < now() - interval '2 minutes')
        order by job_priority_rank(priority), created_at, id
        for update skip locked
        limit p_limit
      )
      returning *
    )
    select * from claimed order by job_priority_rank(priority), created_at, id;
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Stats know `retrying`
-- ---------------------------------------------------------------------------------------------

create or replace function get_queue_stats() returns jsonb
language sql stable
set search_path = public, pg_temp
as $$
  with
  statuses as (select unnest(array['queued', 'processing', 'retrying', 'completed', 'failed', 'cancelled']) as s),
  priorities as (select unnest(array['high', 'medium', 'low']) as p),
  renderers as (select unnest(array['manim', 'revideo', 'orchestrator']) as r),
  -- started_at comes from a worker's clock and created_at from the database's; a worker a
  -- little behind must not show a negative wait.
  hour as (
    select
      avg(greatest(extract(epoch from started_at - created_at), 0)) filter (where started_at >= now() - interval '1 hour')
        as avg_wait,
      avg(greatest(extract(epoch from completed_at - started_at), 0))
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
-- Grants: service side only
-- ---------------------------------------------------------------------------------------------

revoke execute on function
  apply_job_transition(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb, timestamptz, timestamptz, text),
  publish_queue_positions(uuid[], int[], timestamptz[], timestamptz[]),
  get_queue_stats()
from public, anon, authenticated;

grant execute on function
  apply_job_transition(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb, timestamptz, timestamptz, text),
  publish_queue_positions(uuid[], int[], timestamptz[], timestamptz[]),
  get_queue_stats()
to service_role;
