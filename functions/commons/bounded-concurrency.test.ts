import { mapWithConcurrency } from './bounded-concurrency';

test('keeps the input order and never runs more than `limit` tasks at once', async () => {
  let running = 0;
  let most = 0;
  const result = await mapWithConcurrency([30, 10, 20, 5, 15], 2, async (ms, index) => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running -= 1;
    return `${index}:${ms}`;
  });
  expect(result).toEqual(['0:30', '1:10', '2:20', '3:5', '4:15']);
  expect(most).toBe(2);
});

test('an empty list runs nothing; a limit below 1 is refused', async () => {
  expect(await mapWithConcurrency([], 4, () => Promise.reject(new Error('never')))).toEqual([]);
  await expect(mapWithConcurrency([1], 0, (n) => Promise.resolve(n))).rejects.toThrow(RangeError);
});
