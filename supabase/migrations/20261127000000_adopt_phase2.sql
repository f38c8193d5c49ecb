-- Cutover from the Phase-2 system (docs/CUTOVER.md): on a database where the old poller's
-- `jobs` table lives (it has no `sync_seq`), set the old tables aside before this project's
-- schema is created, so nothing of theirs is silently kept in place of ours. Their rows are
-- copied into the new tables by 20261201000006_adopt_phase2_rows.sql, after the schema exists.
--
-- Sorted first on purpose. On a database this project created (or an empty one) it does nothing.
do $$
declare
  v_fn record;
begin
  if to_regclass('public.jobs') is null
     or exists (
       select 1 from information_schema.columns
       where table_schema = 'public' and table_name = 'jobs' and column_name = 'sync_seq'
     ) then
    return;
  end if;

  -- The old per-change rewrite of every position: its triggers go with the table, the functions here.
  alter table public.jobs rename to phase2_jobs;
  if to_regclass('public.job_queue_config') is not null then
    alter table public.job_queue_config rename to phase2_job_queue_config;
  end if;
  for v_fn in
    select p.oid::regprocedure as signature
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname in ('update_queue_positions', 'get_queue_stats')
  loop
    execute format('drop function %s cascade', v_fn.signature);
  end loop;

  -- The set-aside tables hold users' jobs: nobody reads them over the API while they wait to be dropped.
  revoke all on public.phase2_jobs from public;
  if to_regclass('public.phase2_job_queue_config') is not null then
    revoke all on public.phase2_job_queue_config from public;
  end if;
  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated') then
    revoke all on public.phase2_jobs from anon, authenticated;
    if to_regclass('public.phase2_job_queue_config') is not null then
      revoke all on public.phase2_job_queue_config from anon, authenticated;
    end if;
  end if;
end;
$$;
