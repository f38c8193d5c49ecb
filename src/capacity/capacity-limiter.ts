/**
 * One process-wide render limiter shared by the `render-manim` and `render-general` Workers
 * through Temporal's custom activity slot supplier.
 *
 * How Core uses a slot supplier: a poller reserves a slot BEFORE it polls, so an idle poller
 * holds a slot while its long poll is open; `markSlotUsed` when a task arrives on it;
 * `releaseSlot` when the task finishes or when the slot is given back unused (poll returned
 * nothing, poller scaled down, Worker shutdown). Counting every reservation (used or idle)
 * against the caps is what makes the caps hold even for tasks a poll is about to deliver.
 */
import type {
  ActivitySlotInfo,
  CustomSlotSupplier,
  SlotMarkUsedContext,
  SlotPermit,
  SlotReleaseContext,
  WorkerOptions,
  WorkerTuner,
} from '@temporalio/worker';
import type { RenderQueue } from '../shared/constants';
import type { QueueConfig } from '../shared/job-schema';

export interface RenderCaps {
  /** Renders of every renderer together. */
  total: number;
  /** Manim renders; the total cap applies to them too. */
  manim: number;
}

/** What we hand to Core. Core gives it back on mark/release; we key on `id`, not identity. */
export interface RenderSlotPermit extends SlotPermit {
  readonly id: number;
  readonly queue: RenderQueue;
}

export interface QueueUsage {
  /** Slots running a task. */
  used: number;
  /** Slots held but idle: reserved by a poller whose poll has not delivered a task yet. */
  reserved: number;
  /** The cap applied; used + reserved never grows past it. For `general` this is the total cap. */
  cap: number;
}

export interface LimiterSnapshot {
  total: QueueUsage;
  manim: QueueUsage;
  general: QueueUsage;
  /** Reservations blocked until capacity frees up, per queue. */
  waiting: Record<RenderQueue, number>;
}

interface Held {
  queue: RenderQueue;
  used: boolean;
}

interface Waiter {
  queue: RenderQueue;
  grant: (permit: RenderSlotPermit) => void;
}

function checkCaps(caps: RenderCaps): RenderCaps {
  for (const field of ['total', 'manim'] as const) {
    const value = caps[field];
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`caps.${field}: expected a whole number >= 0 (got ${String(value)})`);
    }
  }
  return { total: caps.total, manim: caps.manim };
}

export class CapacityLimiter {
  private caps: RenderCaps;
  private readonly held = new Map<number, Held>();
  /** FIFO; a waiter that cannot be served is skipped, never blocks the ones behind it. */
  private waiters: Waiter[] = [];
  private nextId = 1;

  constructor(opts: { caps: RenderCaps }) {
    this.caps = checkCaps(opts.caps);
  }

  /**
   * New caps take effect at once. Raising them wakes waiters (oldest first); lowering them
   * revokes nothing: running renders finish, and no slot is granted until usage is under the cap.
   */
  setCaps(caps: RenderCaps): void {
    this.caps = checkCaps(caps);
    this.drain();
  }

  getCaps(): RenderCaps {
    return { ...this.caps };
  }

  supplierFor(queue: RenderQueue): CustomSlotSupplier<ActivitySlotInfo> {
    return {
      type: 'custom',
      reserveSlot: (_ctx, abortSignal) => this.reserve(queue, abortSignal),
      tryReserveSlot: () => this.tryReserve(queue),
      markSlotUsed: (ctx: SlotMarkUsedContext<ActivitySlotInfo>) => this.markUsed(ctx.permit),
      releaseSlot: (ctx: SlotReleaseContext<ActivitySlotInfo>) => this.release(ctx.permit),
    };
  }

  snapshot(): LimiterSnapshot {
    const usage = (queue?: RenderQueue): Omit<QueueUsage, 'cap'> => {
      let used = 0;
      let reserved = 0;
      for (const slot of this.held.values()) {
        if (queue && slot.queue !== queue) continue;
        if (slot.used) used += 1;
        else reserved += 1;
      }
      return { used, reserved };
    };
    const waiting = { manim: 0, general: 0 };
    for (const waiter of this.waiters) waiting[waiter.queue] += 1;
    return {
      total: { ...usage(), cap: this.caps.total },
      manim: { ...usage('manim'), cap: this.caps.manim },
      general: { ...usage('general'), cap: this.caps.total },
      waiting,
    };
  }

  /** Resolves with a permit once a slot is free; on abort, leaves the queue and rejects with the abort reason. */
  reserve(queue: RenderQueue, abortSignal: AbortSignal): Promise<RenderSlotPermit> {
    if (abortSignal.aborted) return Promise.reject(abortSignal.reason);
    return new Promise<RenderSlotPermit>((resolve, reject) => {
      let granted: RenderSlotPermit | undefined;
      const onAbort = (): void => {
        if (granted) {
          // Core aborts only while it is still awaiting us; after the grant that means it dropped
          // the permit without ever seeing it, so nobody else will release it.
          this.release(granted);
          return;
        }
        this.waiters = this.waiters.filter((waiter) => waiter !== entry);
        // Core expects the signal's own reason; anything else it logs as a supplier error.
        reject(abortSignal.reason);
      };
      const entry: Waiter = {
        queue,
        grant: (permit) => {
          granted = permit;
          resolve(permit);
        },
      };
      abortSignal.addEventListener('abort', onAbort, { once: true });
      // Joins the queue behind older waiters; drain() grants it now if it fits (an older waiter
      // blocked only by the Manim cap does not hold back a general reservation).
      this.waiters.push(entry);
      this.drain();
    });
  }

  /** Never waits: a permit if a slot is free right now, else null. Used by Core for eager tasks. */
  tryReserve(queue: RenderQueue): RenderSlotPermit | null {
    if (!this.fits(queue)) return null;
    const permit: RenderSlotPermit = { id: this.nextId++, queue };
    this.held.set(permit.id, { queue, used: false });
    return permit;
  }

  markUsed(permit: SlotPermit): void {
    const slot = this.held.get(permitId(permit));
    if (slot) slot.used = true;
  }

  /** Idempotent: an unknown or already released permit changes nothing. */
  release(permit: SlotPermit): void {
    if (this.held.delete(permitId(permit))) this.drain();
  }

  private fits(queue: RenderQueue): boolean {
    if (this.held.size >= this.caps.total) return false;
    if (queue !== 'manim') return true;
    let manim = 0;
    for (const slot of this.held.values()) if (slot.queue === 'manim') manim += 1;
    return manim < this.caps.manim;
  }

  /** Grants waiting reservations oldest first, skipping any whose queue is at its own cap. */
  private drain(): void {
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      const permit = this.tryReserve(waiter.queue);
      if (permit) waiter.grant(permit);
      else still.push(waiter);
    }
    this.waiters = still;
  }
}

function permitId(permit: SlotPermit): number {
  const id = (permit as Partial<RenderSlotPermit> | null | undefined)?.id;
  return typeof id === 'number' ? id : -1;
}

/**
 * Pollers per render Worker. Core reserves a slot before each poll and an idle poller keeps
 * it for the whole long poll (up to ~70 s on an empty queue), so every poller parks one unit
 * of the shared cap. One poller per queue parks at most two slots process-wide and still picks
 * up the next task as soon as the last one is handed over (it re-polls right after a task arrives).
 * `maxConcurrentActivityTaskPolls` is ignored by SDK 1.24; the poller behaviour is what counts.
 */
export const RENDER_WORKER_POLLERS = 1;
export const RENDER_ACTIVITY_POLLER_BEHAVIOR: NonNullable<WorkerOptions['activityTaskPollerBehavior']> = {
  type: 'simple-maximum',
  maximum: RENDER_WORKER_POLLERS,
};

/**
 * The per-process guard beneath admission's fleet-wide caps. Admission already keeps the whole
 * fleet within the caps, so this only has to let one process run all of it: the peak-hour caps
 * (so the guard never lags when peak hours begin) plus one slot per idle poller (each holds a
 * reservation while it polls), so an idle poller never parks a slot that admission has granted.
 * `processMax` (WORKER_MAX_RENDERS) lowers the total for a small container; the other workers
 * then take the rest.
 */
export function localRenderCaps(
  config: Pick<QueueConfig, 'maxConcurrentRenders' | 'maxManimRenders' | 'peakWorkerMultiplier'>,
  processMax?: number,
): RenderCaps {
  const pollers = RENDER_WORKER_POLLERS * 2;
  const fleetTotal = Math.floor(config.maxConcurrentRenders * Math.max(1, config.peakWorkerMultiplier));
  const total = (processMax === undefined ? fleetTotal : Math.min(fleetTotal, processMax)) + pollers;
  return { total, manim: Math.min(config.maxManimRenders, fleetTotal) + RENDER_WORKER_POLLERS };
}

/**
 * The tuner for a render Worker: activities go through the shared limiter. Render Workers run
 * no workflows, local activities or Nexus tasks, so those get the smallest sizes Core accepts
 * (2 workflow slots: one for the sticky and one for the normal queue).
 */
export function renderWorkerTuner(limiter: CapacityLimiter, queue: RenderQueue): WorkerTuner {
  return {
    activityTaskSlotSupplier: limiter.supplierFor(queue),
    workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
    localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
    nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
  };
}
