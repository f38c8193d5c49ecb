/**
 * Priority inversions and FIFO violations, counted from what the renderers saw. Every job was
 * waiting before the first start (the scenario queues them all while dispatch is held), so a
 * job "was waiting" at a start exactly when it had not started yet.
 *
 * Starts closer together than `toleranceMs` count as one dispatch round: every system hands
 * out free slots concurrently, and which of a round's HTTP requests reaches the renderer first
 * is a race, not a scheduling decision. With 200 ms renders, a job that really jumped the queue
 * starts at least one render earlier than the job it jumped.
 */
import type { Priority, RenderQueue } from '../../src/shared/constants';

export interface OrderedJob {
  id: string;
  pool: RenderQueue;
  priority: Priority;
  /** Submission order (0 first). */
  submitIndex: number;
}

export interface OrderingCounts {
  /** Starts that went ahead of a waiting job of higher priority in the same pool. */
  inversions: number;
  /** Starts that went ahead of an earlier-submitted waiting job of the same priority and pool. */
  fifoViolations: number;
}

const RANK: Record<Priority, number> = { high: 0, medium: 1, low: 2 };

/** `startedAt`: epoch ms of each job's first render start; a job never started waits forever. */
export function countOrdering(
  jobs: readonly OrderedJob[],
  startedAt: ReadonlyMap<string, number>,
  toleranceMs: number,
): OrderingCounts {
  let inversions = 0;
  let fifoViolations = 0;
  for (const job of jobs) {
    const at = startedAt.get(job.id);
    if (at === undefined) continue;
    let inverted = false;
    let unfair = false;
    for (const other of jobs) {
      if (other.pool !== job.pool || other.id === job.id) continue;
      const otherAt = startedAt.get(other.id) ?? Infinity;
      if (otherAt <= at + toleranceMs) continue; // started before, or in the same round
      if (RANK[other.priority] < RANK[job.priority]) inverted = true;
      else if (other.priority === job.priority && other.submitIndex < job.submitIndex) unfair = true;
      if (inverted && unfair) break;
    }
    if (inverted) inversions += 1;
    if (unfair) fifoViolations += 1;
  }
  return { inversions, fifoViolations };
}
