-- A job that starts its retry wait has left the queue until it asks again after the interval,
-- so the `retrying` write clears its position even when no `processing` came between (a render
-- the renderer refused at submit). Once it asks again, admission publishes its new position;
-- later writes while it stays `retrying` keep that.
create or replace function jobs_clear_position() returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if new.status = 'queued' then
    return new;
  end if;
  if new.status = 'retrying' and tg_op = 'UPDATE' and old.status = 'retrying' then
    return new;
  end if;
  new.queue_position := null;
  new.estimated_start_at := null;
  return new;
end;
$$;

drop trigger if exists jobs_clear_position on jobs;
create trigger jobs_clear_position
  before insert or update of status on jobs
  for each row
  when (new.status <> 'queued'
        and (new.queue_position is not null or new.estimated_start_at is not null))
  execute function jobs_clear_position();
