import {
  CapacityLimiter,
  renderWorkerTuner,
  type RenderSlotPermit,
} from '../../src/capacity/capacity-limiter';
import type { ActivitySlotInfo, SlotReserveContext } from '@temporalio/worker';

const ctx = (taskQueue: string): SlotReserveContext => ({
  slotType: 'activity',
  taskQueue,
  workerIdentity: 'test',
  workerBuildId: '',
  isSticky: false,
});
const info: ActivitySlotInfo = { type: 'activity', activityType: 'render' };

/** Resolves on the next macrotask, after every already-queued promise callback has run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Tracks whether a reservation promise has resolved yet, without awaiting it. */
function track(promise: Promise<unknown>): { done: () => boolean; value: () => unknown } {
  let done = false;
  let value: unknown;
  promise.then(
    (v) => {
      done = true;
      value = v;
    },
    (e) => {
      done = true;
      value = e;
    },
  );
  return { done: () => done, value: () => value };
}

const held = (limiter: CapacityLimiter): number =>
  limiter.snapshot().total.used + limiter.snapshot().total.reserved;

describe('CapacityLimiter', () => {
  test('reserve, mark used and release move a slot from reserved to used to free', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 3, manim: 2 } });
    const supplier = limiter.supplierFor('manim');
    const permit = await supplier.reserveSlot(ctx('render-manim'), new AbortController().signal);
    expect(limiter.snapshot().manim).toEqual({ used: 0, reserved: 1, cap: 2 });
    supplier.markSlotUsed({ slotInfo: info, permit });
    expect(limiter.snapshot().manim).toEqual({ used: 1, reserved: 0, cap: 2 });
    expect(limiter.snapshot().total).toEqual({ used: 1, reserved: 0, cap: 3 });
    supplier.releaseSlot({ slotInfo: info, permit });
    expect(limiter.snapshot().total).toEqual({ used: 0, reserved: 0, cap: 3 });
  });

  test('idle reservations count against the caps: the total cap holds across both queues', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 3, manim: 2 } });
    const general = limiter.supplierFor('general');
    const signal = new AbortController().signal;
    for (let i = 0; i < 3; i += 1) await general.reserveSlot(ctx('g'), signal);
    expect(general.tryReserveSlot(ctx('g'))).toBeNull();
    expect(limiter.supplierFor('manim').tryReserveSlot(ctx('m'))).toBeNull();
    const blocked = track(limiter.supplierFor('manim').reserveSlot(ctx('m'), signal));
    await settle();
    expect(blocked.done()).toBe(false);
    expect(limiter.snapshot().waiting).toEqual({ manim: 1, general: 0 });
    expect(held(limiter)).toBe(3);
  });

  test('the manim cap holds even when the total cap has room', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 10, manim: 2 } });
    const manim = limiter.supplierFor('manim');
    expect(manim.tryReserveSlot(ctx('m'))).not.toBeNull();
    expect(manim.tryReserveSlot(ctx('m'))).not.toBeNull();
    expect(manim.tryReserveSlot(ctx('m'))).toBeNull();
    expect(limiter.supplierFor('general').tryReserveSlot(ctx('g'))).not.toBeNull();
  });

  test('a release hands the slot to the oldest waiter first', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    const general = limiter.supplierFor('general');
    const signal = new AbortController().signal;
    const first = await general.reserveSlot(ctx('g'), signal);
    const order: string[] = [];
    const a = general.reserveSlot(ctx('g'), signal).then((p) => (order.push('a'), p));
    const b = general.reserveSlot(ctx('g'), signal).then((p) => (order.push('b'), p));
    general.releaseSlot({ permit: first });
    const permitA = await a;
    await settle();
    expect(order).toEqual(['a']);
    general.releaseSlot({ permit: permitA });
    await b;
    expect(order).toEqual(['a', 'b']);
  });

  test('raising the caps wakes waiters in FIFO order, as many as now fit', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    const general = limiter.supplierFor('general');
    const signal = new AbortController().signal;
    await general.reserveSlot(ctx('g'), signal);
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => general.reserveSlot(ctx('g'), signal).then(() => order.push(n)));
    await settle();
    expect(order).toEqual([]);
    limiter.setCaps({ total: 3, manim: 1 });
    await settle();
    expect(order).toEqual([1, 2]);
    expect(limiter.snapshot().waiting.general).toBe(1);
    limiter.setCaps({ total: 4, manim: 1 });
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
  });

  test('lowering the caps revokes nothing but grants no slot until usage is under the new cap', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 4, manim: 4 } });
    const general = limiter.supplierFor('general');
    const permits = [1, 2, 3, 4].map(() => general.tryReserveSlot(ctx('g')) as RenderSlotPermit);
    permits.forEach((permit) => general.markSlotUsed({ slotInfo: info, permit }));
    limiter.setCaps({ total: 2, manim: 2 });
    expect(limiter.snapshot().total).toEqual({ used: 4, reserved: 0, cap: 2 });
    const waiter = track(general.reserveSlot(ctx('g'), new AbortController().signal));
    general.releaseSlot({ permit: permits[0]! });
    general.releaseSlot({ permit: permits[1]! });
    await settle();
    expect(waiter.done()).toBe(false); // 2 held, cap 2
    general.releaseSlot({ permit: permits[2]! });
    await settle();
    expect(waiter.done()).toBe(true);
    expect(held(limiter)).toBe(2);
  });

  test('a manim waiter blocked by the manim cap does not block a general waiter behind it', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 2, manim: 1 } });
    const manim = limiter.supplierFor('manim');
    const general = limiter.supplierFor('general');
    const signal = new AbortController().signal;
    await manim.reserveSlot(ctx('m'), signal);
    await general.reserveSlot(ctx('g'), signal);
    expect(limiter.snapshot().general.reserved).toBe(1);
    const manimWaiter = track(manim.reserveSlot(ctx('m'), signal));
    const generalWaiter = track(general.reserveSlot(ctx('g'), signal));
    await settle();
    expect(manimWaiter.done()).toBe(false);
    expect(generalWaiter.done()).toBe(false);
    // Frees total capacity; manim is still at its own cap, so the general waiter gets the slot.
    limiter.setCaps({ total: 3, manim: 1 });
    await settle();
    expect(manimWaiter.done()).toBe(false);
    expect(generalWaiter.done()).toBe(true);
    // A new general reservation is not held back by the older manim waiter either.
    limiter.setCaps({ total: 4, manim: 1 });
    expect(await general.reserveSlot(ctx('g'), signal)).toBeDefined();
    expect(limiter.snapshot().waiting).toEqual({ manim: 1, general: 0 });
  });

  test('releasing a permit twice, or an unknown permit, does not corrupt the counts', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 2, manim: 2 } });
    const general = limiter.supplierFor('general');
    const a = general.tryReserveSlot(ctx('g'))!;
    general.tryReserveSlot(ctx('g'));
    general.releaseSlot({ permit: a });
    general.releaseSlot({ permit: a });
    general.releaseSlot({ permit: {} });
    general.releaseSlot({ permit: { id: 999, queue: 'general' } as RenderSlotPermit });
    general.markSlotUsed({ slotInfo: info, permit: a });
    expect(limiter.snapshot().total).toEqual({ used: 0, reserved: 1, cap: 2 });
    expect(general.tryReserveSlot(ctx('g'))).not.toBeNull();
    expect(general.tryReserveSlot(ctx('g'))).toBeNull();
  });

  test('a permit is recognised by its id even when Core hands back a copy', () => {
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    const general = limiter.supplierFor('general');
    const permit = general.tryReserveSlot(ctx('g')) as RenderSlotPermit;
    general.releaseSlot({ permit: { ...permit } });
    expect(held(limiter)).toBe(0);
  });

  test('aborting a waiting reservation removes it, rejects with the abort reason and leaks nothing', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    const general = limiter.supplierFor('general');
    const first = general.tryReserveSlot(ctx('g'))!;
    const controller = new AbortController();
    const waiting = general.reserveSlot(ctx('g'), controller.signal);
    await settle();
    expect(limiter.snapshot().waiting.general).toBe(1);
    const reason = new Error('Request Cancelled');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(limiter.snapshot().waiting.general).toBe(0);
    general.releaseSlot({ permit: first });
    expect(held(limiter)).toBe(0);
    // The slot is free for the next reservation, not given to the aborted one.
    expect(general.tryReserveSlot(ctx('g'))).not.toBeNull();
  });

  test('an already aborted signal rejects at once without taking a slot', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(limiter.supplierFor('general').reserveSlot(ctx('g'), controller.signal)).rejects.toThrow(
      'gone',
    );
    expect(held(limiter)).toBe(0);
  });

  test('an abort after the grant (Core dropped the reservation unseen) gives the slot back', async () => {
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    const controller = new AbortController();
    await limiter.supplierFor('general').reserveSlot(ctx('g'), controller.signal);
    expect(held(limiter)).toBe(1);
    controller.abort();
    expect(held(limiter)).toBe(0);
  });

  test('caps must be whole numbers >= 0, named in the error', () => {
    expect(() => new CapacityLimiter({ caps: { total: -1, manim: 1 } })).toThrow('caps.total');
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    expect(() => limiter.setCaps({ total: 2, manim: 1.5 })).toThrow('caps.manim');
    expect(limiter.getCaps()).toEqual({ total: 1, manim: 1 });
  });

  test('renderWorkerTuner routes activity slots through the limiter and fixes the rest', () => {
    const limiter = new CapacityLimiter({ caps: { total: 1, manim: 1 } });
    const tuner = renderWorkerTuner(limiter, 'manim');
    expect(tuner).toMatchObject({
      activityTaskSlotSupplier: { type: 'custom' },
      workflowTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
      localActivityTaskSlotSupplier: { type: 'fixed-size', numSlots: 2 },
      nexusTaskSlotSupplier: { type: 'fixed-size', numSlots: 1 },
    });
  });
});
