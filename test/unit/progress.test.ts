import { progressHooks } from '../../local/progress';

test('progress lines come from the hooks: a retry, a dead letter, and each new reason to wait once', () => {
  const lines: string[] = [];
  const hooks = progressHooks({ progress: (line) => lines.push(line) });

  hooks.onRetry?.({
    reason: 'not-ready',
    message: 'gateway not passing',
    receiveCount: 2,
    retryInSeconds: 4,
  });
  hooks.onWaiting?.({ reason: 'dialer-gateway-missing', detail: 'no passing gateway', delaySeconds: 1 });
  hooks.onWaiting?.({ reason: 'dialer-gateway-missing', detail: 'no passing gateway', delaySeconds: 2 });
  hooks.onDeadLetter?.({ reason: 'name-conflict', message: 'the direction dc2→dc1 exists' });

  expect(lines.map((line) => line.replace(/ +/g, ' '))).toEqual([
    'retry not-ready: gateway not passing (delivery 2; again in 4 s)',
    'waiting dialer-gateway-missing: no passing gateway (checked again in 1 s, then by backoff)',
    'dead-lettered name-conflict: the direction dc2→dc1 exists',
  ]);
});
