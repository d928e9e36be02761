/**
 * Runs `fn` over `items` with at most `limit` calls in flight, and resolves when all are done
 * (rejecting with the first failure, after the calls already started have settled or not, as
 * Promise.all does). Unbounded Promise.all over thousands of store updates holds every one's
 * state and reply in memory at once; this keeps what is in flight, and the heap, small.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}
