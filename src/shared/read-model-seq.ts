/**
 * Sequence numbers of a job's read-model writes. The database applies a write only when its seq
 * is above the stored one, so writers that never talk to each other (the workflow, its render
 * activity, admission) stay in order by writing in ranges of their own:
 *
 *   generation g (0 for the first run; the retry command starts 1, 2, ...): g x 1,000,000 and up
 *     +1                      queued, written when the job enters the queue
 *     attempt a: +a x 1,000
 *       +1                    processing, written by the render activity once the render is submitted
 *       +2 ... +102           progress, by the render activity (1 + whole percent)
 *       +500                  completed, by the render activity
 *       +600 and up           the workflow's own writes during and after the attempt
 *     +999,999                admission's record of a workflow that closed without running code
 *
 * A write from a later range always wins, whatever the order of arrival: a late progress write
 * never hides `retrying`, and a `completed` that lost its race with the attempt's timeout is ignored.
 */
export const READ_MODEL_SEQ = {
  perGeneration: 1_000_000,
  perAttempt: 1_000,
  queued: 1,
  processing: 1,
  progressFrom: 2,
  completed: 500,
  workflowFrom: 600,
  closedByAdmission: 999_999,
} as const;

export function generationSeqBase(generation: number): number {
  return generation * READ_MODEL_SEQ.perGeneration;
}

export function generationOfSeq(seq: number): number {
  return Math.floor(seq / READ_MODEL_SEQ.perGeneration);
}

/** The first seq of attempt `attempt`'s range in generation `generation`. */
export function attemptSeqBase(generation: number, attempt: number): number {
  return generationSeqBase(generation) + attempt * READ_MODEL_SEQ.perAttempt;
}

/** The seq of a progress write: higher progress, higher seq, so the newest report wins. */
export function progressSeq(attemptBase: number, progress: number): number {
  const percent = Math.min(100, Math.max(0, Math.floor(progress * 100 + 1e-9)));
  return attemptBase + READ_MODEL_SEQ.progressFrom + percent;
}
