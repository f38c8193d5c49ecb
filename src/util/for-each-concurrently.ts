/**
 * Calls `fn` on every item, at most `lanes` calls at once, items taken in order as lanes free up.
 * Resolves when all are done; the first rejection rejects it once the other lanes have finished
 * the item they were on (none takes another).
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  lanes: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        await fn(items[i]!, i);
      } catch (err) {
        next = items.length;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(lanes, items.length) }, lane));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}
