-- Row-level security, shaped like Supabase: the anon and authenticated keys (the frontend) read
-- only their own jobs and may insert their own queued jobs, nothing else; the service role (the
-- worker) bypasses RLS. On Supabase the roles and auth.uid() exist already; elsewhere (plain
-- PostgreSQL, PGlite) they are created here, so the same policies are tested everywhere.

-- Roles are cluster-wide: another database (or a concurrent migration) may have created them.
do $$
declare
  v_role text;
begin
  foreach v_role in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_roles where rolname = v_role) then
      begin
        execute format('create role %I nologin', v_role);
      exception when duplicate_object or unique_violation then
        null; -- created concurrently
      end;
    end if;
  end loop;
  if not exists (select 1 from pg_roles where rolname = 'service_role' and rolbypassrls) then
    alter role service_role bypassrls;
  end if;
end;
$$;

-- auth.uid(): the `sub` claim of the caller's JWT, as PostgREST sets it in request.jwt.claims.
do $$
begin
  if to_regprocedure('auth.uid()') is null then
    create schema if not exists auth;
    create function auth.uid() returns uuid
    language sql stable
    as 'select (nullif(current_setting(''request.jwt.claims'', true), '''')::jsonb ->> ''sub'')::uuid';
    grant usage on schema auth to anon, authenticated, service_role;
    grant execute on function auth.uid() to anon, authenticated, service_role;
  end if;
end;
$$;

grant usage on schema public to anon, authenticated, service_role;

-- Supabase's default privileges grant everything on new tables and functions to anon and
-- authenticated: start from nothing and grant back only what the frontend needs.
revoke all on jobs, job_queue_config, job_types from public, anon, authenticated;

alter table jobs enable row level security;

-- Only the columns a submitter chooses; status, positions, results and workflow_id take their
-- defaults, and the policy below re-checks them in case a grant is ever widened.
grant select on jobs to anon, authenticated;
grant insert (id, job_type, priority, renderer, payload, user_id) on jobs to anon, authenticated;
grant select on job_types to anon, authenticated;
grant select on job_queue_config to authenticated;

drop policy if exists jobs_select_own on jobs;
create policy jobs_select_own on jobs
  for select to anon, authenticated
  using (user_id = auth.uid());

drop policy if exists jobs_insert_own_queued on jobs;
create policy jobs_insert_own_queued on jobs
  for insert to anon, authenticated
  with check (
    user_id = auth.uid()
    and status = 'queued'
    and workflow_id is null and claimed_at is null
    and result is null and error is null and progress is null
    and queue_position is null and estimated_wait_seconds is null
    and started_at is null and completed_at is null
    and sync_seq = 0 and attempt = 0 and retry_count = 0
  );
-- No UPDATE or DELETE policy: with RLS on, the frontend can change no row at all.

grant all on jobs, job_queue_config, job_types to service_role;

-- schema_migrations is our runner's (src/store/migrate.ts); the Supabase CLI keeps its own elsewhere.
do $$
begin
  if to_regclass('public.schema_migrations') is not null then
    revoke all on schema_migrations from public, anon, authenticated;
    grant select on schema_migrations to service_role;
  end if;
end;
$$;

-- Service-side functions: the worker (service role, or the table owner over DATABASE_URL) only.
-- Trigger functions need no grant: a trigger runs its function whoever fires it.
revoke execute on function
  apply_job_transition(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb),
  apply_job_transition_unlocked(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb),
  refresh_queue_positions(),
  queue_caps_in_force(),
  get_queue_stats(),
  claim_intake_jobs(int),
  mark_intake_started(uuid, text),
  mark_intake_rejected(uuid, text)
from public, anon, authenticated;

grant execute on function
  apply_job_transition(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb),
  apply_job_transition_unlocked(uuid, bigint, text, text, int, real, text, text, timestamptz, timestamptz, jsonb),
  refresh_queue_positions(),
  queue_caps_in_force(),
  get_queue_stats(),
  claim_intake_jobs(int),
  mark_intake_started(uuid, text),
  mark_intake_rejected(uuid, text)
to service_role;
