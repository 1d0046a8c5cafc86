import { mapBounded } from '../../../cli/bounded';
import { Output } from '../../../cli/io';
import { meshPairs } from '../../../cli/commands/peer';
import { renderTable } from '../../../cli/table';
import { waitForAll } from '../../../cli/wait';

const capture = () => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = new Output({ stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
  return { out, stdout, stderr };
};

test('Output scrubs every registered secret from every line, results and progress alike', () => {
  const { out, stdout, stderr } = capture();
  out.redact('b1946ac9-2a0e-4b0b-9c7a-0d2f6c0a5e11');
  out.redact('short'); // too short to scrub without blanking ordinary words
  out.result('token b1946ac9-2a0e-4b0b-9c7a-0d2f6c0a5e11 is short');
  out.error('x=b1946ac9-2a0e-4b0b-9c7a-0d2f6c0a5e11\ny');
  out.progress('b1946ac9-2a0e-4b0b-9c7a-0d2f6c0a5e11');
  expect(stdout).toEqual(['token [REDACTED] is short']);
  expect(stderr[0]).toBe('x=[REDACTED]');
  expect(stderr[1]).toBe('y');
  expect(stderr[2]).toMatch(/^\[ {2}0\.\ds\] \[REDACTED\]$/);
});

test('renderTable pads columns to the widest cell and trims the last', () => {
  expect(
    renderTable(
      ['A', 'LONGER'],
      [
        ['x', 'y '],
        ['wide cell', ''],
      ],
    ),
  ).toEqual(['A          LONGER', 'x          y', 'wide cell']);
});

test('mapBounded keeps order, respects the limit, and settles each item on its own', async () => {
  let inFlight = 0;
  let peak = 0;
  const results = await mapBounded([1, 2, 3, 4, 5, 6], 2, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    inFlight--;
    if (n === 3) throw new Error('unreachable');
    return n * 10;
  });
  expect(peak).toBe(2);
  expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
    10,
    20,
    'unreachable',
    40,
    50,
    60,
  ]);
});

describe('meshPairs', () => {
  const none = (): Promise<boolean> => Promise.resolve(false);

  test('every pair once; the name that sorts first (byte order) accepts, whatever order they are given in', async () => {
    expect(await meshPairs(['dc3', 'dc1', 'dc2'], none)).toEqual([
      { acceptor: 'dc1', dialer: 'dc2', kept: false },
      { acceptor: 'dc1', dialer: 'dc3', kept: false },
      { acceptor: 'dc2', dialer: 'dc3', kept: false },
    ]);
    expect((await meshPairs(['b', 'a-1', 'a'], none)).map((p) => `${p.acceptor}>${p.dialer}`)).toEqual([
      'a>a-1',
      'a>b',
      'a-1>b',
    ]);
  });

  test('a pair recorded the other way round keeps its direction', async () => {
    const recorded = (acceptor: string, dialer: string): Promise<boolean> =>
      Promise.resolve(acceptor === 'dc2' && dialer === 'dc1');
    expect(await meshPairs(['dc1', 'dc2'], recorded)).toEqual([
      { acceptor: 'dc2', dialer: 'dc1', kept: true },
    ]);
  });
});

describe('waitForAll', () => {
  test('prints one line per state change, treats a failing probe as a state, and ends when all are done', async () => {
    const { out, stderr } = capture();
    const states = ['PENDING', 'PENDING', 'boom', 'ESTABLISHING', 'ACTIVE'];
    let i = 0;
    const results = await waitForAll(
      [
        {
          label: 'dc1 -> dc2',
          probe: () => {
            const state = states[i++];
            if (state === 'boom') return Promise.reject(new Error('connection refused'));
            return Promise.resolve(state === 'ACTIVE' ? { done: 'ok' } : { state });
          },
        },
      ],
      { out, timeoutMs: 5_000, intervalMs: 1 },
    );
    expect(results).toEqual([{ status: 'done', value: 'ok' }]);
    expect(stderr.map((line) => line.replace(/^\[.*?\] /, ''))).toEqual([
      'dc1 -> dc2: PENDING',
      'dc1 -> dc2: cannot check yet: connection refused',
      'dc1 -> dc2: ESTABLISHING',
    ]);
  });

  test('times out with the last state, or stops at once when interrupted', async () => {
    const { out } = capture();
    const stuck = { label: 'x', probe: () => Promise.resolve({ state: 'PENDING' }) };
    expect(await waitForAll([stuck], { out, timeoutMs: 30, intervalMs: 5 })).toEqual([
      { status: 'timed out', lastState: 'PENDING' },
    ]);
    const abort = new AbortController();
    setTimeout(() => {
      abort.abort();
    }, 20);
    const started = Date.now();
    expect(
      await waitForAll([stuck], { out, timeoutMs: 60_000, intervalMs: 10_000, signal: abort.signal }),
    ).toEqual([{ status: 'interrupted' }]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
