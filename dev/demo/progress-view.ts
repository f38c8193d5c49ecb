/** The demo's terminal view: a table redrawn in place on a TTY, one line per change otherwise. */
import type { LimiterSnapshot } from '../../src/capacity/capacity-limiter';
import { table, untilTime } from '../../src/util/table';
import type { JobRow } from '../../src/shared/job-schema';
import type { DemoJob } from './batch';

export interface ViewState {
  jobs: DemoJob[];
  rows: Map<string, JobRow>;
  limiter: LimiterSnapshot;
  elapsedMs: number;
}

export function renderTable({ jobs, rows, limiter, elapsedMs }: ViewState): string {
  const lines = jobs.map((job) => {
    const row = rows.get(job.id);
    const status = row?.status ?? 'submitting';
    const detail =
      status === 'queued'
        ? `#${row?.queuePosition ?? '?'} ~${untilTime(row?.estimatedStartAt)}`
        : status === 'processing'
          ? `${bar(row?.progress ?? 0)} try ${(row?.retryCount ?? 0) + 1}`
          : status === 'completed'
            ? `done, try ${(row?.retryCount ?? 0) + 1}`
            : status === 'failed'
              ? `try ${(row?.retryCount ?? 0) + 1}: ${row?.error ?? ''}`
              : status;
    return [job.id.slice(0, 8), job.priority, row?.renderer ?? '-', job.label, status, detail];
  });
  const head =
    `render queue demo  ${Math.round(elapsedMs / 1000)}s  renders in flight ` +
    `${limiter.total.used}/${limiter.total.cap} (manim ${limiter.manim.used}/${limiter.manim.cap})`;
  return `${head}\n${table(['JOB', 'PRIO', 'RENDERER', 'WHAT', 'STATUS', 'DETAIL'], lines)}`;
}

function bar(progress: number): string {
  const filled = Math.round(Math.max(0, Math.min(1, progress)) * 8);
  return `[${'#'.repeat(filled)}${'.'.repeat(8 - filled)}]`;
}

/** Plain lines for a non-TTY (CI, logs): one per job status change. */
export function changeLines(previous: Map<string, string>, state: ViewState): string[] {
  const lines: string[] = [];
  for (const job of state.jobs) {
    const row = state.rows.get(job.id);
    if (!row) continue;
    const key = `${row.status}:${row.retryCount}`;
    if (previous.get(job.id) === key) continue;
    previous.set(job.id, key);
    const extra =
      row.status === 'queued'
        ? ` position ${row.queuePosition ?? '?'}, ~${untilTime(row.estimatedStartAt)} wait`
        : row.status === 'processing'
          ? ` attempt ${row.retryCount + 1}`
          : row.status === 'failed'
            ? ` after ${row.retryCount + 1} attempt(s): ${row.error ?? ''}`
            : '';
    lines.push(
      `${Math.round(state.elapsedMs / 1000)}s ${job.id.slice(0, 8)} ${job.priority} ${row.renderer} ${row.status}${extra}`,
    );
  }
  return lines;
}
