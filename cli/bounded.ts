import { mapWithConcurrency } from '#commons/bounded-concurrency';

/**
 * Maps over `items` with at most `limit` calls in flight, keeping the input order. Each item's
 * failure is its own (a settled result), so one unreachable cluster never stops the others.
 */
export function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  return mapWithConcurrency(items, Math.max(1, limit), (item) =>
    fn(item).then(
      (value): PromiseSettledResult<R> => ({ status: 'fulfilled', value }),
      (reason: unknown): PromiseSettledResult<R> => ({ status: 'rejected', reason }),
    ),
  );
}
