/**
 * Calls `fn` on every item, at most `lanes` calls at once, items taken in order as lanes free up.
 * Resolves when all are done; the first rejection rejects it (the other lanes finish their item).
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  lanes: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}
