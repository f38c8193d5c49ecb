/**
 * Queue positions and estimated start times, computed from the admission queue itself so that
 * what a user reads is the order that grants. Pure: used by the admission workflow's queries and
 * by the activity that publishes positions to the read model.
 *
 * queue_position: 1 + the waiting jobs of the same slot pool (Manim; general = Revideo and the
 * orchestrator) ahead in the admission order. Position 1 of a pool is the next job of that pool
 * to be granted a permit.
 *
 * estimated_start_at: a replay of the admission rule over time. Each slot of the total cap frees
 * when its render is expected to end (granted at + the renderer's recent average duration; a
 * render past its average is expected to end a tenth of it later), each Manim slot likewise; the
 * waiting jobs then take the freed slots in admission order, a Manim job only once a Manim slot
 * is free too.
 */
import { ADMISSION_LIMITS } from './constants';
import type { Renderer } from './constants';
import { compareWaiting } from './admission-queue';
import type { AdmissionCaps, AdmissionQueue, HolderEntry, WaitingEntry } from './admission-queue';

/** Recent render duration per renderer in ms; null until one completed. */
export type RenderDurations = Record<Renderer, number | null>;

export const NO_DURATIONS: RenderDurations = { manim: null, revideo: null, orchestrator: null };

/** Moving average of completed render durations. */
export function observeDuration(durations: RenderDurations, renderer: Renderer, ms: number): RenderDurations {
  const previous = durations[renderer];
  const weight = ADMISSION_LIMITS.durationSmoothing;
  const next = previous === null ? ms : previous + weight * (ms - previous);
  return { ...durations, [renderer]: Math.round(next) };
}

export function expectedDuration(durations: RenderDurations, renderer: Renderer): number {
  return durations[renderer] ?? ADMISSION_LIMITS.defaultRenderSeconds * 1000;
}

export interface QueueEstimate {
  jobId: string;
  renderer: Renderer;
  /** 1-based, within the job's slot pool. */
  position: number;
  /** Epoch ms. */
  estimatedStartAt: number;
  /** When admission accepted the job, epoch ms. */
  acceptedAt: number;
}

/** A small binary min-heap of numbers (slot free times); caps are tens, so this stays tiny. */
class MinHeap {
  private readonly items: number[] = [];

  constructor(values: number[]) {
    for (const value of values) this.push(value);
  }

  get size(): number {
    return this.items.length;
  }

  peek(): number {
    return this.items[0] ?? Number.POSITIVE_INFINITY;
  }

  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= items[i]!) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < items.length && items[l]! < items[smallest]!) smallest = l;
        if (r < items.length && items[r]! < items[smallest]!) smallest = r;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}

/**
 * When each of `cap` slots can next start a render, given the expected ends of the renders in
 * flight. With more renders in flight than the cap (it was lowered), a start waits until enough
 * of them have ended to bring the count under the cap.
 */
function slotFreeTimes(ends: number[], cap: number, now: number): number[] {
  const sorted = [...ends].sort((a, b) => a - b);
  if (sorted.length < cap) return [...new Array<number>(cap - sorted.length).fill(now), ...sorted];
  return sorted.slice(sorted.length - cap);
}

export interface EstimateInput {
  now: number;
  caps: AdmissionCaps;
  holders: readonly HolderEntry[];
  manimWaiting: readonly WaitingEntry[];
  generalWaiting: readonly WaitingEntry[];
  durations: RenderDurations;
}

/** Positions and estimated starts of every waiting job, in admission order. */
export function estimateQueue(input: EstimateInput): QueueEstimate[] {
  const { now, caps, durations } = input;
  const duration = (renderer: Renderer) => expectedDuration(durations, renderer);
  const expectedEnd = (h: HolderEntry) =>
    Math.max(h.grantedAt + duration(h.renderer), now + duration(h.renderer) / 10);
  const total = new MinHeap(slotFreeTimes(input.holders.map(expectedEnd), Math.max(1, caps.total), now));
  const manimSlots = new MinHeap(
    slotFreeTimes(
      input.holders.filter((h) => h.renderer === 'manim').map(expectedEnd),
      Math.max(1, caps.manim),
      now,
    ),
  );
  const out: QueueEstimate[] = [];
  const { manimWaiting: manim, generalWaiting: general } = input;
  let m = 0;
  let g = 0;
  while (m < manim.length || g < general.length) {
    const t = total.pop();
    const nextManim = manim[m];
    const nextGeneral = general[g];
    const manimFirst = nextManim && (!nextGeneral || compareWaiting(nextManim, nextGeneral) < 0);
    // The admission rule at time t: the first waiting job whose pool has room. A Manim job whose
    // Manim slot frees later is skipped in favour of the general job behind it.
    if (nextManim && (manimFirst || !nextGeneral) && (manimSlots.peek() <= t || !nextGeneral)) {
      const start = Math.max(t, manimSlots.pop());
      const end = start + duration('manim');
      total.push(end);
      manimSlots.push(end);
      m += 1;
      out.push({
        jobId: nextManim.jobId,
        renderer: 'manim',
        position: m,
        estimatedStartAt: start,
        acceptedAt: nextManim.acceptedAt,
      });
    } else {
      const job = nextGeneral!;
      total.push(t + duration(job.renderer));
      g += 1;
      out.push({
        jobId: job.jobId,
        renderer: job.renderer,
        position: g,
        estimatedStartAt: t,
        acceptedAt: job.acceptedAt,
      });
    }
  }
  return out;
}

/** Estimates for a live queue (the workflow's query, the CLI). */
export function estimateAdmissionQueue(
  queue: AdmissionQueue,
  caps: AdmissionCaps,
  durations: RenderDurations,
  now: number,
): QueueEstimate[] {
  return estimateQueue({
    now,
    caps,
    durations,
    holders: queue.holdersList(),
    manimWaiting: queue.pool('manim'),
    generalWaiting: queue.pool('general'),
  });
}
