-- Core read model: job types, queue policy, jobs, and the one function that writes job state.
-- Idempotent (IF NOT EXISTS / OR REPLACE / ON CONFLICT) so it can be re-run by hand on a copy.
-- Later migrations add queue positions, get_queue_stats(), row-level security and intake.

-- Job types the platform accepts and the renderer each uses by default.
-- Seeded from JOB_TYPE_DEFAULT_RENDERER in src/shared/constants.ts; a test keeps them equal.
create table if not exists job_types (
  name text primary key,
  default_renderer text not null,
  enabled boolean not null default true,
  constraint job_types_default_renderer_check
    check (default_renderer in ('manim', 'revideo', 'orchestrator'))
);

insert into job_types (name, default_renderer) values
  ('doubt', 'manim'),
  ('concept_explainer', 'revideo'),
  ('solution_walkthrough', 'orchestrator'),
  ('revision_summary', 'revideo')
on conflict (name) do nothing;

-- Queue policy, one row. Deliberately no range checks on the values: an operator's bad edit must
-- still be storable so the application can detect it, reject it as a whole and keep the last
-- good policy (see QueueConfigSchema). Only the single-row shape is enforced here.
create table if not exists job_queue_config (
  id smallint primary key default 1,
  max_concurrent_renders int not null default 10,
  max_manim_renders int not null default 4,
  peak_hour_start time not null default '06:00',
  peak_hour_end time not null default '21:00',
  peak_worker_multiplier numeric not null default 1.5,
  time_zone text not null default 'UTC',
  job_timeout_minutes numeric not null default 10,
  retry_interval_minutes numeric not null default 5,
  max_attempts int not null default 3,
  updated_at timestamptz not null default now(),
  constraint job_queue_config_single_row check (id = 1)
);

insert into job_queue_config (id) values (1) on conflict (id) do nothing;

create table if not exists jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid null,
  job_type text not null,
  priority text not null default 'medium',
  renderer text not null,
  payload jsonb not null default '{}'::jsonb,
  status text not null default 'queued',
  retry_count int not null default 0,
  attempt int not null default 0,
  progress real null,
  error text null,
  result text null,
  queue_position int null,
  estimated_wait_seconds int null,
  workflow_id text null,
  sync_seq bigint not null default 0,
  created_at timestamptz not null default now(),
  started_at timestamptz null,
  completed_at timestamptz null,
  updated_at timestamptz not null default now(),
  claimed_at timestamptz null,
  constraint jobs_job_type_fkey foreign key (job_type) references job_types (name) on update cascade,
  constraint jobs_priority_check check (priority in ('high', 'medium', 'low')),
  constraint jobs_renderer_check check (renderer in ('manim', 'revideo', 'orchestrator')),
  constraint jobs_payload_check check (jsonb_typeof(payload) = 'object'),
  constraint jobs_status_check
    check (status in ('queued', 'processing', 'completed', 'failed', 'cancelled')),
  constraint jobs_progress_check check (progress is null or (progress >= 0 and progress <= 1)),
  constraint jobs_retry_count_check check (retry_count >= 0),
  constraint jobs_attempt_check check (attempt >= 0)
);

-- Queued jobs in dispatch order (priority is ranked in queries; the index narrows by status).
create index if not exists jobs_status_priority_created_idx on jobs (status, priority, created_at);
create index if not exists jobs_user_id_idx on jobs (user_id);
create index if not exists jobs_workflow_id_idx on jobs (workflow_id);
-- listJobs pages newest first.
create index if not exists jobs_created_at_idx on jobs (created_at desc);

-- The frontend inserts rows without a renderer: take the job type's default. An unknown job
-- type is reported here, as the foreign key would, because the NOT NULL check on renderer would
-- otherwise fire first with a misleading message.
create or replace function jobs_fill_renderer() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_default text;
begin
  if new.renderer is null then
    select default_renderer into v_default from job_types where name = new.job_type;
    if not found then
      raise exception 'job_type "%" is not a known job type', new.job_type
        using errcode = 'foreign_key_violation', constraint = 'jobs_job_type_fkey',
              column = 'job_type', table = 'jobs';
    end if;
    new.renderer := v_default;
  end if;
  return new;
end;
$$;

create or replace trigger jobs_fill_renderer
  before insert on jobs
  for each row execute function jobs_fill_renderer();

create or replace function touch_updated_at() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create or replace trigger jobs_touch_updated_at
  before update on jobs
  for each row execute function touch_updated_at();

create or replace trigger job_queue_config_touch_updated_at
  before update on job_queue_config
  for each row execute function touch_updated_at();

create or replace function job_status_rank(p_status text) returns int
language sql immutable
set search_path = public, pg_temp
as $$
  select case p_status
    when 'queued' then 0
    when 'processing' then 1
    else 2 -- completed, failed, cancelled: terminal
  end;
$$;

-- The single place where the service writes a job's state. Each write carries a sequence
-- number; a write is applied only if it is newer than the stored one, so a late or retried sync
-- never moves a job backwards.
--
-- Run generations: generation = p_seq / 1000000. Within a generation the status never goes
-- back in rank (queued < processing < completed|failed|cancelled) and a terminal row is frozen.
-- A write from a higher generation (a retry of a finished job starts at generation*1000000 + 1)
-- resets the row to the new run's state.
--
-- Field rules within a generation:
--   * error: kept when a write carries none, so `processing` of attempt 2 still shows why
--     attempt 1 failed and `failed` shows the last error; cleared by `completed`, because a
--     job that succeeded has no error to show.
--   * result, started_at, completed_at, workflow_id: kept when a write carries none.
--   * progress: restarts with each attempt; `completed` without a value shows 1.
--   * retry_count = attempt - 1 (attempt 1 is the first try).
-- A new generation takes every field from the write, so nulls clear the previous run's values.
--
-- Returns true when the write was applied (or created the row), false when ignored as stale.
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
declare
  v_row jobs%rowtype;
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
    insert into jobs (
      id, user_id, job_type, priority, renderer, payload,
      status, sync_seq, workflow_id, attempt, retry_count, progress, error, result,
      started_at, completed_at, created_at
    ) values (
      p_job_id,
      (p_job ->> 'userId')::uuid,
      p_job ->> 'jobType',
      coalesce(p_job ->> 'priority', 'medium'),
      p_job ->> 'renderer',
      coalesce(p_job -> 'payload', '{}'::jsonb),
      p_status, p_seq, p_workflow_id, p_attempt, greatest(p_attempt - 1, 0), p_progress, p_error, p_result,
      p_started_at, p_completed_at,
      -- Submission time, not the time the first write happened to land (writes may be delayed).
      coalesce((p_job ->> 'submittedAt')::timestamptz, now())
    )
    on conflict (id) do nothing;
    if found then
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
    updated_at = now()
  where id = p_job_id;

  return true;
end;
$$;
