import { decide } from '#devkit/sqs-event-source-mapping';

// The mapping's delete rules, as Lambda applies them to an SQS batch (the integration test runs them
// against moto; here each rule alone).
const ids = ['a', 'b', 'c'];
const ok = (payload: unknown) => ({ payload, error: undefined });
const kept = (result: ReturnType<typeof decide>) => [...result.keep].sort();

test('a successful invocation without failures deletes the whole batch', () => {
  expect(kept(decide(ids, ok({ batchItemFailures: [] }), undefined, true))).toEqual([]);
  expect(kept(decide(ids, ok(null), undefined, true))).toEqual([]);
  expect(kept(decide(ids, ok({ batchItemFailures: [{ itemIdentifier: 'b' }] }), undefined, false))).toEqual(
    [],
  );
});

test('listed batchItemFailures stay on the queue; the rest are deleted', () => {
  const result = decide(ids, ok({ batchItemFailures: [{ itemIdentifier: 'b' }] }), undefined, true);
  expect(kept(result)).toEqual(['b']);
  expect(result.failure).toBe('batchItemFailures: b');
});

test('an unreadable response, a function error or a failed invoke keeps the whole batch', () => {
  for (const payload of [
    { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] },
    { batchItemFailures: [{ itemIdentifier: '' }] },
    { batchItemFailures: [{}] },
    { batchItemFailures: 'b' },
  ])
    expect(kept(decide(ids, ok(payload), undefined, true))).toEqual(ids);
  const thrown = { payload: {}, error: { errorType: 'Error', errorMessage: 'boom' } };
  expect(decide(ids, thrown, undefined, true)).toMatchObject({ failure: 'Error: boom' });
  expect(kept(decide(ids, thrown, undefined, true))).toEqual(ids);
  expect(kept(decide(ids, undefined, 'connection refused', true))).toEqual(ids);
});
