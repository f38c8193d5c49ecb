/**
 * `render-queue submit --file jobs.ndjson`: many jobs from one process and one connection.
 * Every line is checked before anything is submitted, so a file with a bad line starts nothing
 * (lines without an `id` get a fresh one on every run: a half-submitted file run again would
 * submit those twice). Lines with an `id` are idempotent: a rerun after a failure starts only
 * what is missing.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { InvalidSubmissionError, submitJob, validateSubmission } from '../jobs/submit';
import { errorMessage } from '../shared/error-message';
import { forEachConcurrently } from '../util/for-each-concurrently';
import { EXIT, UsageError } from './io';
import type { CommandContext } from './context';

/** Submissions in flight at once: enough to hide a round trip, few enough for a small server. */
const SUBMIT_CONCURRENCY = 16;
/** A batch larger than this is a bulk import, not a CLI call. */
const MAX_LINES = 100_000;

export interface BatchLine {
  line: number;
  jobId: string;
  /** The line's submission, with the job id it was given (its own, or a new one). */
  submission: Record<string, unknown>;
}

export type BatchResult =
  | { line: number; jobId: string; started: boolean }
  | { line: number; jobId: string; error: string };

/** Parses and validates every line; throws one UsageError listing every bad line by number and field. */
export function parseJobLines(text: string): BatchLine[] {
  const jobs: BatchLine[] = [];
  const errors: string[] = [];
  const lines = text.split('\n');
  if (lines.length > MAX_LINES) throw new UsageError(`--file: ${lines.length} lines; at most ${MAX_LINES}`);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      errors.push(`line ${line}: not valid JSON (${errorMessage(err)})`);
      return;
    }
    try {
      const { jobId } = validateSubmission(value);
      jobs.push({ line, jobId, submission: { ...(value as Record<string, unknown>), id: jobId } });
    } catch (err) {
      if (!(err instanceof InvalidSubmissionError)) throw err;
      errors.push(`line ${line}: ${err.message}`);
    }
  });
  const ids = new Map<string, number>();
  for (const { line, jobId } of jobs) {
    const first = ids.get(jobId);
    if (first !== undefined) errors.push(`line ${line}: id: the same job id as line ${first}`);
    else ids.set(jobId, line);
  }
  if (errors.length > 0) {
    // One line on the terminal (errors are printed with control characters escaped).
    const shown = errors.slice(0, 20).join('; ');
    const more = errors.length > 20 ? `; ... and ${errors.length - 20} more` : '';
    throw new UsageError(`--file: ${errors.length} bad line(s), nothing submitted: ${shown}${more}`);
  }
  if (jobs.length === 0) throw new UsageError('--file: no jobs (one JSON object per line)');
  return jobs;
}

/** Submits the checked jobs, a bounded number at a time; one failure does not stop the rest. */
export async function submitBatch(client: Client, jobs: BatchLine[]): Promise<BatchResult[]> {
  const results: BatchResult[] = new Array(jobs.length);
  await forEachConcurrently(jobs, SUBMIT_CONCURRENCY, async ({ line, jobId, submission }, i) => {
    try {
      const outcome = await submitJob(client, submission);
      results[i] = { line, jobId: outcome.jobId, started: outcome.started };
    } catch (err) {
      results[i] = { line, jobId, error: errorMessage(err) };
    }
  });
  return results;
}

export async function submitFileCommand(ctx: CommandContext, file: string): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`--file: cannot read ${file} (${errorMessage(err)})`);
  }
  const jobs = parseJobLines(text);
  const results = await submitBatch(await ctx.client(), jobs);
  const started = results.filter((r) => 'started' in r && r.started).length;
  const existing = results.filter((r) => 'started' in r && !r.started).length;
  const failed = results.filter((r) => 'error' in r);
  const summary = `submitted ${started}, already submitted ${existing}, failed ${failed.length} (of ${jobs.length} jobs)`;
  const lines = results.map((r) =>
    'error' in r
      ? `line ${r.line}: ${r.jobId} failed: ${r.error}`
      : `line ${r.line}: ${r.jobId}${r.started ? '' : ' (already submitted; nothing new started)'}`,
  );
  ctx.out.print([...lines, summary].join('\n'), {
    submitted: started,
    alreadySubmitted: existing,
    failed: failed.length,
    jobs: results,
  });
  return failed.length > 0 ? EXIT.failure : EXIT.ok;
}
