/**
 * A status audit for the TEST database: a trigger records every change the database accepts to
 * a job's status or sync sequence, so a test can prove no row ever moved backwards.
 */
import type { Queryable } from '../../../src/store/migrate';
import { JOB_STATUSES } from '../../../src/shared/constants';

export async function installStatusAudit(db: Queryable): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS job_status_audit (
      id bigserial PRIMARY KEY,
      job_id uuid NOT NULL,
      status text NOT NULL,
      sync_seq bigint NOT NULL,
      at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  // SECURITY DEFINER: the service role (through PostgREST) writes jobs but has no grant on the audit.
  await db.query(`CREATE OR REPLACE FUNCTION audit_job_status() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status OR NEW.sync_seq IS DISTINCT FROM OLD.sync_seq THEN
          INSERT INTO job_status_audit (job_id, status, sync_seq) VALUES (NEW.id, NEW.status, NEW.sync_seq);
        END IF;
        RETURN NULL;
      END $$`);
  await db.query(`CREATE OR REPLACE TRIGGER job_status_audit AFTER INSERT OR UPDATE ON jobs
      FOR EACH ROW EXECUTE FUNCTION audit_job_status()`);
}

const RANK: Record<string, number> = { queued: 0, processing: 1, completed: 2, failed: 2, cancelled: 2 };

export interface AuditReport {
  jobs: number;
  transitions: number;
  /** One line per backwards move: a lower status rank, a second terminal status, or a seq not increasing. */
  regressions: string[];
}

/** Checks every job's recorded sequence of accepted states. */
export async function checkAudit(db: Queryable): Promise<AuditReport> {
  const { rows } = await db.query<{ job_id: string; status: string; sync_seq: string }>(
    `SELECT job_id, status, sync_seq::text FROM job_status_audit ORDER BY id`,
  );
  const last = new Map<string, { status: string; seq: bigint }>();
  const regressions: string[] = [];
  for (const row of rows) {
    if (!(JOB_STATUSES as readonly string[]).includes(row.status))
      regressions.push(`${row.job_id}: unknown ${row.status}`);
    const seq = BigInt(row.sync_seq);
    const before = last.get(row.job_id);
    if (before) {
      const back = RANK[row.status]! < RANK[before.status]!;
      const terminalChanged = RANK[before.status] === 2 && row.status !== before.status;
      // sync_seq 0 is the frontend's row before any workflow wrote it; intake's own marks keep 0.
      const seqBack = seq < before.seq || (seq === before.seq && seq !== 0n && row.status !== before.status);
      if (back || terminalChanged || seqBack) {
        regressions.push(`${row.job_id}: ${before.status}#${before.seq} -> ${row.status}#${seq}`);
      }
    }
    last.set(row.job_id, { status: row.status, seq });
  }
  return { jobs: last.size, transitions: rows.length, regressions };
}
