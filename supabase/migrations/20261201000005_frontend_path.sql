-- The frontend's path: inserts that wake intake at once, the security policy of user inserts,
-- job types configured in the database alone, the old system's public stats call, and rows that
-- intake refused made re-runnable.

-- ---------------------------------------------------------------------------------------------
-- Wake intake on insert
-- ---------------------------------------------------------------------------------------------

-- One notification per statement that inserted a row for intake (queued, no workflow yet): the
-- workers LISTEN on a direct connection and claim at once. Rows a workflow creates through its
-- first sync carry their workflow id and wake nobody. NOTIFY is delivered on commit.
create or replace function jobs_notify_intake() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if exists (select 1 from inserted_jobs where status = 'queued' and workflow_id is null) then
    perform pg_notify('render_queue_intake', '');
  end if;
  return null;
end;
$$;

drop trigger if exists jobs_notify_intake on jobs;
create trigger jobs_notify_intake
  after insert on jobs
  referencing new table as inserted_jobs
  for each statement execute function jobs_notify_intake();

-- Supabase Realtime streams inserts of tables in its publication; REST clients cannot LISTEN, so
-- workers on SUPABASE_URL wake on these. Only where the publication exists (Supabase itself).
do $$
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime')
     and not exists (
       select 1 from pg_publication_tables
       where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'jobs'
     ) then
    alter publication supabase_realtime add table jobs;
  end if;
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- The security policy of inserts by the frontend's own keys (anon, authenticated)
-- ---------------------------------------------------------------------------------------------

-- The highest priority a user's own insert may have, per job type; service role only (the
-- frontend can read job_types but not this column). Higher asks are lowered to it.
alter table job_types add column if not exists user_priority text not null default 'medium';
alter table job_types drop constraint if exists job_types_user_priority_check;
alter table job_types add constraint job_types_user_priority_check
  check (user_priority in ('high', 'medium', 'low'));

-- Waiting jobs (queued or retrying) one signed-in user may have at once; more are refused.
alter table job_queue_config add column if not exists max_queued_per_user int not null default 20;

revoke select on job_types from anon, authenticated;
grant select (name, default_renderer, enabled) on job_types to anon, authenticated;

-- Before a row is inserted: its type must be enabled; for the frontend's own keys its priority is
-- capped by its type and its user must be under the per-user cap. The service's own writes (a
-- workflow's first sync creating its row) are not new jobs and pass untouched. It runs with its
-- owner's rights (the frontend may not read job_types.user_priority, nor other users' rows to
-- count); the caller's role is the `role` setting PostgREST sets per request, which a security
-- definer function still sees. A per-user advisory lock makes two concurrent inserts of one user
-- count each other; only that user's inserts ever take it, never a status write.
create or replace function jobs_check_insert() returns trigger
language plpgsql
security definer
set search_path = public, pg_temp
as $$
declare
  v_type job_types%rowtype;
  v_cap int;
  v_waiting int;
begin
  if current_setting('render_queue.service_write', true) = 'on' then
    return new;
  end if;
  select * into v_type from job_types where name = new.job_type;
  if found and not v_type.enabled then
    raise exception 'job_type "%" is disabled: new jobs of this type are not accepted', new.job_type
      using errcode = 'check_violation', constraint = 'jobs_job_type_enabled', column = 'job_type';
  end if;
  if coalesce(current_setting('role', true), 'none') not in ('anon', 'authenticated') then
    return new; -- the service role, an operator, a migration: no user policy
  end if;
  if found and job_priority_rank(new.priority) < job_priority_rank(v_type.user_priority) then
    new.priority := v_type.user_priority;
  end if;
  if new.user_id is not null then
    perform pg_advisory_xact_lock(hashtextextended('render-queue:user:' || new.user_id::text, 0));
    select max_queued_per_user into v_cap from job_queue_config where id = 1;
    v_cap := coalesce(v_cap, 20);
    select count(*) into v_waiting from jobs
      where user_id = new.user_id and status in ('queued', 'retrying');
    if v_waiting >= v_cap then
      raise exception 'too many waiting jobs: % of % allowed for this user; wait for one to start', v_waiting, v_cap
        using errcode = 'check_violation', constraint = 'jobs_user_queue_cap', column = 'user_id';
    end if;
  end if;
  return new;
end;
$$;

drop trigger if exists jobs_check_insert on jobs;
-- BEFORE triggers fire in name order: jobs_check_insert after jobs_fill_renderer, so the type is known.
create trigger jobs_check_insert
  before insert on jobs
  for each row execute function jobs_check_insert();

-- ---------------------------------------------------------------------------------------------
-- Job types from the database alone
-- ---------------------------------------------------------------------------------------------

-- The hard-coded list of types went; a type is any row of job_types (the foreign key checks it).
-- Names stay simple identifiers, since they name pipelines and metrics labels.
alter table job_types drop constraint if exists job_types_name_check;
alter table job_types add constraint job_types_name_check check (name ~ '^[a-z][a-z0-9_]{0,62}$');

-- ---------------------------------------------------------------------------------------------
-- The old system's public stats call
-- ---------------------------------------------------------------------------------------------

-- `POST /rest/v1/rpc/get_queue_stats` with the anon key, as the old system documents: counts and
-- averages only, over every row, so it runs with its owner's rights (RLS would show anon none).
alter function get_queue_stats() security definer;
grant execute on function get_queue_stats() to anon, authenticated;

-- ---------------------------------------------------------------------------------------------
-- Rows intake refused, re-runnable once fixed
-- ---------------------------------------------------------------------------------------------

-- An operator fixed a row intake had failed (invalid payload, unknown type): back to `queued`,
-- unclaimed, so intake validates it again. Only rows intake failed (no workflow ever owned them).
create or replace function requeue_rejected_job(p_id uuid) returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
begin
  update jobs
  set status = 'queued', error = null, completed_at = null, claimed_at = null, created_at = now()
  where id = p_id and status = 'failed' and workflow_id is null;
  if found then
    perform pg_notify('render_queue_intake', ''); -- workers on a direct connection take it at once
    return true;
  end if;
  return false;
end;
$$;

revoke execute on function requeue_rejected_job(uuid) from public, anon, authenticated;
grant execute on function requeue_rejected_job(uuid) to service_role;
