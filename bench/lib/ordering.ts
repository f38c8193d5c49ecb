/**
 * Priority inversions and FIFO violations, counted from what the renderers saw, across renderers:
 * the order the old poller promises (all queued jobs by priority, then age, then the caps).
 *
 * A start of job J at time t is an inversion when some job K was waiting at t (accepted before t,
 * not started by then), K's priority is higher, and the caps would have admitted K in J's place;
 * a FIFO violation when K has J's priority and was surely accepted first (its submit had returned
 * before J's submit began: with concurrent submitters, overlapping submits have no order to keep).
 *
 * "The caps would admit K": J took a slot of the total cap, which K could have had unless K is a
 * Manim job and the Manim cap was full without J. Renders of the same dispatch round (starts
 * closer than `toleranceMs`) count as in flight together: every system hands out a round's slots
 * concurrently, and which HTTP request of a round reaches its renderer first is a race.
 */
import type { Priority, RenderQueue } from '../../src/shared/constants';

export interface OrderedJob {
  id: string;
  pool: RenderQueue;
  priority: Priority;
  /** Epoch ms the submit call began. */
  submittedAt: number;
  /** Epoch ms the system acknowledged the submit (it is queued no later than this). */
  acceptedAt: number;
}

/** One render the renderers saw (measured jobs and any others, such as the jobs that filled the caps). */
export interface RenderSpan {
  id: string;
  pool: RenderQueue;
  startedAt: number;
  /**
   * Until when it held its slot as far as the scheduler could know: when the system took in the
   * render's end (a system cannot hand out a slot whose render it has not seen end). Infinity:
   * never ended.
   */
  finishedAt: number;
}

export interface OrderingCounts {
  /** Starts that went ahead of a waiting, admissible job of higher priority. */
  inversions: number;
  /** Starts that went ahead of a waiting, admissible job of the same priority accepted earlier. */
  fifoViolations: number;
}

/** One start that went ahead of a job it should not have (for the log: what to look at). */
export interface OrderingExample {
  kind: 'inversion' | 'fifo';
  started: OrderedJob & { at: number };
  waiting: OrderedJob & { at: number };
}

const RANK: Record<Priority, number> = { high: 0, medium: 1, low: 2 };

export function countOrdering(
  jobs: readonly OrderedJob[],
  renders: readonly RenderSpan[],
  manimCap: number,
  toleranceMs: number,
  examples?: OrderingExample[],
): OrderingCounts {
  const startedAt = new Map(renders.map((r) => [r.id, r.startedAt]));
  const manimRenders = renders.filter((r) => r.pool === 'manim');
  /** Manim renders in flight at t (those of t's round included), J's own excepted. */
  const manimBusy = (t: number, exceptId: string) =>
    manimRenders.filter((r) => r.id !== exceptId && r.startedAt <= t + toleranceMs && r.finishedAt > t)
      .length;
  let inversions = 0;
  let fifoViolations = 0;
  for (const job of jobs) {
    const at = startedAt.get(job.id);
    if (at === undefined) continue;
    let manimRoom: boolean | undefined;
    const admissible = (other: OrderedJob) => {
      if (other.pool !== 'manim' || job.pool === 'manim') return true;
      manimRoom ??= manimBusy(at, job.id) < manimCap;
      return manimRoom;
    };
    let inverted = false;
    let unfair = false;
    for (const other of jobs) {
      if (other.id === job.id || other.acceptedAt > at) continue;
      const otherAt = startedAt.get(other.id) ?? Infinity;
      if (otherAt <= at + toleranceMs) continue; // started before, or in the same round
      const higher = RANK[other.priority] < RANK[job.priority];
      const earlier = other.priority === job.priority && other.acceptedAt < job.submittedAt;
      if (!(higher && !inverted) && !(earlier && !unfair)) continue;
      if (!admissible(other)) continue;
      if (higher) inverted = true;
      else unfair = true;
      if (examples && examples.length < 5) {
        examples.push({
          kind: higher ? 'inversion' : 'fifo',
          started: { ...job, at },
          waiting: { ...other, at: otherAt },
        });
      }
      if (inverted && unfair) break;
    }
    if (inverted) inversions += 1;
    if (unfair) fifoViolations += 1;
  }
  return { inversions, fifoViolations };
}
