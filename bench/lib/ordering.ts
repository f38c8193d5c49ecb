/**
 * Priority inversions and FIFO violations, counted from what the renderers saw. All jobs were
 * waiting before the first start (the scenario submits them while the system is paused), so a
 * job "was waiting" at a start exactly when it had not started yet.
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

/** `startOrder`: job ids in the order their first render started. Jobs never started count as waiting to the end. */
export function countOrdering(jobs: readonly OrderedJob[], startOrder: readonly string[]): OrderingCounts {
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const started = new Set<string>();
  let inversions = 0;
  let fifoViolations = 0;
  for (const id of startOrder) {
    const job = byId.get(id);
    if (!job || started.has(id)) continue;
    let inverted = false;
    let unfair = false;
    for (const other of jobs) {
      if (other.pool !== job.pool || other.id === id || started.has(other.id)) continue;
      if (RANK[other.priority] < RANK[job.priority]) inverted = true;
      else if (other.priority === job.priority && other.submitIndex < job.submitIndex) unfair = true;
      if (inverted && unfair) break;
    }
    if (inverted) inversions += 1;
    if (unfair) fifoViolations += 1;
    started.add(id);
  }
  return { inversions, fifoViolations };
}
