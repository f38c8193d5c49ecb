/**
 * The hand-off gap: a render ends at the renderer → the next render starts in the slot it freed.
 *
 * With every slot busy (the saturated scenario), a start can only follow an end, so the ends and
 * starts pair up in time order: each end claims the first unclaimed start at or after it. Only
 * ends with a general job still waiting count: such a job fits any freed slot, so an ideal
 * scheduler starts it at once (an end while only Manim jobs wait behind a full Manim cap frees a
 * slot nobody may take, and is no gap).
 *
 * Two clocks for the end: when the renderer finished the render (what the issue measures,
 * including how long the system took to notice), and when the system first asked after it had
 * finished (the poll that saw it end: what is left is the system's own hand-off).
 */
import type { RenderQueue } from '../../src/shared/constants';

export interface HandoffRender {
  id: string;
  pool: RenderQueue;
  startedAt: number;
  /** When the renderer finished it. */
  finishedAt: number;
  /** The first status request after it finished; undefined when the system never asked again. */
  noticedAt?: number;
}

export interface HandoffGaps {
  /** Render end → next start, ms, one per counted end. */
  fromEnd: number[];
  /** The poll that saw the end → next start, ms. */
  fromNotice: number[];
  /** Each counted end's notice and the start it paired with (where the system noticed it). */
  noticedPairs: Array<{ noticedAt: number; startedId: string; startedAt: number }>;
}

/** `measured`: the jobs whose starts fill freed slots (renders that were running at t0 may end, not start). */
export function handoffGaps(renders: readonly HandoffRender[], measured: ReadonlySet<string>): HandoffGaps {
  const ends = renders
    .filter((r) => Number.isFinite(r.finishedAt))
    .sort((a, b) => a.finishedAt - b.finishedAt);
  const starts = renders.filter((r) => measured.has(r.id)).sort((a, b) => a.startedAt - b.startedAt);
  const generalStarts = renders
    .filter((r) => measured.has(r.id) && r.pool === 'general')
    .map((r) => r.startedAt)
    .sort((a, b) => a - b);
  const fromEnd: number[] = [];
  const fromNotice: number[] = [];
  const noticedPairs: HandoffGaps['noticedPairs'] = [];
  let next = 0;
  for (const end of ends) {
    // A general job was waiting at this end: fewer general starts than general jobs by then.
    const generalStartedBy = upperBound(generalStarts, end.finishedAt);
    if (generalStartedBy >= generalStarts.length) break;
    while (next < starts.length && starts[next]!.startedAt < end.finishedAt) next += 1;
    if (next >= starts.length) break;
    const start = starts[next]!;
    next += 1;
    fromEnd.push(start.startedAt - end.finishedAt);
    if (end.noticedAt !== undefined) {
      fromNotice.push(Math.max(0, start.startedAt - end.noticedAt));
      noticedPairs.push({ noticedAt: end.noticedAt, startedId: start.id, startedAt: start.startedAt });
    }
  }
  return { fromEnd, fromNotice, noticedPairs };
}

/** How many of the sorted values are ≤ x. */
function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
