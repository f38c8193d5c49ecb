-- Cutover from the Phase-2 system, second half (the first is 20261127000000_adopt_phase2.sql):
-- every row of the old `jobs` is copied into the new one, and the old queue policy into
-- `job_queue_config`. Queued rows, and rows the stopped old poller left `processing`, become
-- queued rows no workflow owns: intake takes them up as soon as a worker runs. Finished rows keep
-- their end. Nothing is dropped: `phase2_jobs` and `phase2_job_queue_config` stay until an
-- operator has checked the cutover (docs/CUTOVER.md). Does nothing where there was no Phase-2.
do $$
declare
  v_config jsonb;
begin
  if to_regclass('public.phase2_jobs') is null then
    return;
  end if;
  if exists (select 1 from jobs limit 1) then
    raise exception 'phase2_jobs exists but jobs is not empty: the cutover copies into an empty table only'
      using errcode = 'object_not_in_prerequisite_state';
  end if;

  -- Job types the old rows use and this project does not know yet: accepted, rendered by the
  -- orchestrator (the general pipeline runner) until an operator sets the right renderer.
  insert into job_types (name, default_renderer)
  select distinct p.job_type, 'orchestrator'
  from phase2_jobs p
  where p.job_type ~ '^[a-z][a-z0-9_]{0,62}$'
  on conflict (name) do nothing;

  -- Each old row read as JSON, so optional columns (user_id, error, result, completed_at, ...)
  -- are taken where the old table has them and left empty where it does not.
  -- The service writes these rows: the insert policy of the frontend's keys does not apply.
  perform set_config('render_queue.service_write', 'on', true);
  insert into jobs (
    id, user_id, job_type, priority, renderer, payload, status, retry_count, attempt,
    error, result, started_at, completed_at, created_at, updated_at
  )
  select
    coalesce((r ->> 'id')::uuid, gen_random_uuid()),
    case when (r ->> 'user_id') ~* '^[0-9a-f-]{36}$' then (r ->> 'user_id')::uuid end,
    r ->> 'job_type',
    case lower(coalesce(r ->> 'priority', 'medium'))
      when 'high' then 'high' when 'urgent' then 'high'
      when 'low' then 'low'
      else 'medium'
    end,
    coalesce(
      case when (r ->> 'renderer') in ('manim', 'revideo', 'orchestrator') then r ->> 'renderer' end,
      (select default_renderer from job_types t where t.name = r ->> 'job_type'),
      'orchestrator'
    ),
    case when jsonb_typeof(r -> 'payload') = 'object' then r -> 'payload' else '{}'::jsonb end,
    s.status,
    coalesce((r ->> 'retry_count')::int, 0),
    case when s.status in ('completed', 'failed', 'cancelled') then coalesce((r ->> 'retry_count')::int, 0) + 1 else 0 end,
    case
      when s.status = 'failed' then coalesce(r ->> 'error', r ->> 'error_message', 'failed in the Phase-2 system')
    end,
    case when s.status = 'completed' then coalesce(r ->> 'result', r ->> 'video_url', r ->> 'result_url') end,
    case when s.status <> 'queued' then (r ->> 'started_at')::timestamptz end,
    case when s.status in ('completed', 'failed', 'cancelled') then
      coalesce((r ->> 'completed_at')::timestamptz, (r ->> 'updated_at')::timestamptz, now())
    end,
    coalesce((r ->> 'created_at')::timestamptz, now()),
    now()
  from (select to_jsonb(p) as r from phase2_jobs p) rows
  cross join lateral (
    select case lower(coalesce(r ->> 'status', 'queued'))
      when 'queued' then 'queued'
      when 'pending' then 'queued'
      -- The old poller is stopped: what it was rendering is rendered again, from the start.
      when 'processing' then 'queued'
      when 'completed' then 'completed'
      when 'done' then 'completed'
      when 'cancelled' then 'cancelled'
      else 'failed'
    end as status
  ) s
  where (r ->> 'job_type') ~ '^[a-z][a-z0-9_]{0,62}$';
  perform set_config('render_queue.service_write', '', true);

  -- The old policy, where the old table had it; values this project refuses are caught by the
  -- workers' validation of the row (the last good policy stays in force), not here.
  if to_regclass('public.phase2_job_queue_config') is not null then
    select to_jsonb(c) into v_config from phase2_job_queue_config c limit 1;
    if v_config is not null then
      update job_queue_config set
        max_concurrent_renders = coalesce((v_config ->> 'max_concurrent_renders')::int, max_concurrent_renders),
        max_manim_renders = coalesce((v_config ->> 'max_manim_renders')::int, max_manim_renders),
        job_timeout_minutes = coalesce((v_config ->> 'job_timeout_minutes')::numeric, job_timeout_minutes),
        retry_interval_minutes = coalesce((v_config ->> 'retry_interval_minutes')::numeric, retry_interval_minutes),
        peak_worker_multiplier = coalesce((v_config ->> 'peak_worker_multiplier')::numeric, peak_worker_multiplier),
        -- Hours as numbers (6) or clock times ('06:00').
        peak_hour_start = coalesce(
          case when (v_config ->> 'peak_hour_start') ~ '^\d{1,2}$' then make_time((v_config ->> 'peak_hour_start')::int, 0, 0)
               else (v_config ->> 'peak_hour_start')::time end,
          peak_hour_start),
        peak_hour_end = coalesce(
          case when (v_config ->> 'peak_hour_end') ~ '^\d{1,2}$' then make_time((v_config ->> 'peak_hour_end')::int % 24, 0, 0)
               else (v_config ->> 'peak_hour_end')::time end,
          peak_hour_end),
        max_attempts = coalesce((v_config ->> 'max_attempts')::int, max_attempts)
      where id = 1;
    end if;
  end if;
end;
$$;
