import { forEachConcurrently } from '../../src/util/for-each-concurrently';

describe('forEachConcurrently', () => {
  it('runs every item once, never more than `lanes` at a time, taking items in order', async () => {
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    await forEachConcurrently([10, 11, 12, 13, 14, 15, 16], 3, async (item, index) => {
      expect(item).toBe(index + 10);
      started.push(item);
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5 + (item % 3)));
      running -= 1;
    });
    expect(started).toEqual([10, 11, 12, 13, 14, 15, 16]);
    expect(peak).toBe(3);
  });

  it('rejects with the first failure', async () => {
    await expect(
      forEachConcurrently([1, 2, 3], 2, async (item) => {
        if (item === 2) throw new Error('item 2 failed');
      }),
    ).rejects.toThrow('item 2 failed');
  });

  it('after a failure, takes no further item and settles only when the items in hand have ended', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    await expect(
      forEachConcurrently([1, 2, 3, 4, 5, 6], 2, async (item) => {
        started.push(item);
        if (item === 1) throw new Error('item 1 failed');
        await new Promise((resolve) => setTimeout(resolve, 20));
        ended.push(item);
      }),
    ).rejects.toThrow('item 1 failed');
    expect(started).toEqual([1, 2]);
    expect(ended).toEqual([2]);
  });

  it('does nothing for no items', async () => {
    const fn = jest.fn(async () => undefined);
    await forEachConcurrently([], 4, fn);
    expect(fn).not.toHaveBeenCalled();
  });
});
