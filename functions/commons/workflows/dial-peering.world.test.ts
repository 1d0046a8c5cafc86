import { ConsulError } from '#commons/ports/consul-error';
import { PermanentError, ValidationError } from '../errors';
import { createEvent, type EventOf } from '../events';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, peeringTokenSecretName } from '../naming';
import { acceptPeering, type PeeringTokenSecret } from './accept-peering';
import { dialPeering, TOKEN_VERSION_KEY } from './dial-peering';
import { acceptorPeering, type MemoryConsul } from './memory-consul.test-support';
import { MemoryWorld, PREFIX, ref } from './memory-world.test-support';
import { PAIR_LOCK_PREFIX } from './pair-lock';

// dialPeering after a real acceptPeering, over in-memory ports: when it establishes, with what, and how
// it waits, fails or hands over. (dial-peering.test.ts: its decisions on Consul's refusals.)
const TOKEN_SECRET = peeringTokenSecretName(PREFIX, 'dc1', 'dc2');

/** The acceptor's record turns ACTIVE when the dialer establishes, as Consul's stream does. */
function activateAcceptorOnEstablish(acceptor: MemoryConsul, dialer: MemoryConsul, peer: string) {
  const before = dialer.before;
  dialer.before = (method, arg) => {
    before(method, arg);
    if (method !== 'establishPeering') return;
    const side = acceptor.peerings.get(peer);
    if (side !== undefined) acceptor.peerings.set(peer, { ...side, state: 'ACTIVE' });
  };
}

async function accepted(names: { acceptor: string; dialer: string } = { acceptor: 'dc1', dialer: 'dc2' }) {
  const w = new MemoryWorld();
  w.tickMs = 1;
  w.settings.activationPollMs = 20;
  w.settings.maxAttempts = 5;
  const acceptor = w.add(names.acceptor);
  const dialer = w.add(names.dialer);
  await acceptPeering(
    createEvent(
      'peering.requested',
      { acceptor: ref(names.acceptor), dialer: ref(names.dialer) },
      { correlationId: 'corr-1' },
    ),
    w.context(),
  );
  const ready = w.events()[0] as EventOf<'peering.acceptor-ready'>;
  w.published.length = 0;
  activateAcceptorOnEstablish(acceptor, dialer, names.dialer);
  const dial = (event: EventOf<'peering.acceptor-ready'> = ready) => dialPeering(event, w.context());
  return { w, acceptor, dialer, ready, dial };
}

const withData = (
  event: EventOf<'peering.acceptor-ready'>,
  data: Partial<EventOf<'peering.acceptor-ready'>['data']>,
) =>
  createEvent('peering.acceptor-ready', { ...event.data, ...data }, { correlationId: event.correlationId });

const establishes = (consul: MemoryConsul) => consul.calls.filter((c) => c.startsWith('establishPeering'));

test('establishes with the stored token at that version, then reports ACTIVE on both sides', async () => {
  const { w, acceptor, dialer, ready, dial } = await accepted();
  const token = JSON.parse(w.secrets.values.get(TOKEN_SECRET)?.value ?? '') as PeeringTokenSecret;

  await expect(dial()).resolves.toEqual({ outcome: 'established' });

  expect(establishes(dialer)).toEqual([
    `establishPeering ${JSON.stringify({
      peerName: 'dc1',
      peeringToken: token.peeringToken,
      meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [TOKEN_VERSION_KEY]: ready.data.tokenVersion },
    })}`,
  ]);
  expect(TOKEN_VERSION_KEY).toBe('token-version');
  expect(w.published).toEqual([
    {
      event: expect.objectContaining({
        type: 'peering.established',
        correlationId: 'corr-1',
        data: {
          acceptor: ref('dc1'),
          dialer: ref('dc2'),
          peeringId: acceptor.peerings.get('dc2')?.id,
          acceptorState: 'ACTIVE',
          dialerState: 'ACTIVE',
        },
      }) as unknown,
      delaySeconds: undefined,
    },
  ]);
  expect(JSON.stringify(w.published)).not.toContain(token.peeringToken);
});

test('a token secret other than the naming scheme gives is refused before Consul is asked', async () => {
  const { dialer, ready, dial } = await accepted();
  dialer.calls.length = 0;
  const failure = dial(withData(ready, { tokenSecret: `${PREFIX}/clusters/dc1` }));
  await expect(failure).rejects.toBeInstanceOf(ValidationError);
  await expect(failure).rejects.toMatchObject({ field: 'data.tokenSecret' });
  await expect(failure).rejects.toThrow(`tokenSecret must be "${TOKEN_SECRET}"`);
  expect(dialer.calls).toEqual([]);
});

test('a replay once ACTIVE with this token version establishes nothing and takes no lock', async () => {
  const { dialer, dial } = await accepted();
  await dial();
  dialer.calls.length = 0;
  await expect(dial()).resolves.toEqual({ outcome: 'established' });
  expect(dialer.writes()).toEqual([]);
  expect(dialer.calls.filter((c) => c.includes('Key'))).toEqual([]);
});

test('an ACTIVE peering established with another token version is established again (a regeneration)', async () => {
  const { dialer, ready, dial } = await accepted();
  await dial();
  const side = dialer.peerings.get('dc1');
  if (side !== undefined) dialer.peerings.set('dc1', { ...side, meta: { [TOKEN_VERSION_KEY]: 'older' } });
  await expect(dial(ready)).resolves.toEqual({ outcome: 'established' });
  expect(establishes(dialer)).toHaveLength(2);
});

test.each(['PENDING', 'TERMINATED', 'FAILING', 'UNDEFINED', 'UNKNOWN'] as const)(
  'a dialer record that is %s is established again, even at this token version',
  async (state) => {
    const { dialer, dial } = await accepted();
    await dial();
    const side = dialer.peerings.get('dc1');
    if (side !== undefined) dialer.peerings.set('dc1', { ...side, state });
    await dial();
    expect(establishes(dialer)).toHaveLength(2);
  },
);

test('ESTABLISHING at this token version is left to finish', async () => {
  const { dialer, dial } = await accepted();
  await dial();
  const side = dialer.peerings.get('dc1');
  if (side !== undefined) dialer.peerings.set('dc1', { ...side, state: 'ESTABLISHING' });
  await dial();
  expect(establishes(dialer)).toHaveLength(1);
});

test('a token secret that is gone fails the peering for a person, with peering.failed', async () => {
  const { w, dialer, dial } = await accepted();
  await w.secrets.delete(TOKEN_SECRET);
  const failure = dial();
  await expect(failure).rejects.toBeInstanceOf(PermanentError);
  await expect(failure).rejects.toMatchObject({ reason: 'token-missing' });
  expect(establishes(dialer)).toEqual([]);
  expect(w.events()).toMatchObject([
    {
      type: 'peering.failed',
      correlationId: 'corr-1',
      data: {
        reason: 'token-missing',
        message: `the peering token secret "${TOKEN_SECRET}" is gone; request the peering again`,
      },
    },
  ]);
});

test('a token secret in another format fails the peering', async () => {
  const { w, dial } = await accepted();
  const current = w.secrets.values.get(TOKEN_SECRET);
  if (current !== undefined) w.secrets.values.set(TOKEN_SECRET, { ...current, value: '{"peeringToken":1}' });
  await expect(dial()).rejects.toMatchObject({ reason: 'token-invalid' });
  expect(w.events()[0]).toMatchObject({ type: 'peering.failed', data: { reason: 'token-invalid' } });
});

test('a superseded token version is not dialed; the request still waits for ACTIVE', async () => {
  const { w, acceptor, dialer, ready, dial } = await accepted();
  const current = w.secrets.values.get(TOKEN_SECRET);
  if (current !== undefined) w.secrets.values.set(TOKEN_SECRET, { ...current, versionId: 'v-newer' });
  await expect(dial(ready)).resolves.toEqual({ outcome: 'pending' });
  expect(establishes(dialer)).toEqual([]);

  // The newer token's own event dials; this one then finds both sides ACTIVE.
  const side = acceptor.peerings.get('dc2');
  if (side !== undefined) acceptor.peerings.set('dc2', { ...side, state: 'ACTIVE' });
  await dialer.establishPeering({
    peerName: 'dc1',
    peeringToken: 't',
    meta: { [TOKEN_VERSION_KEY]: 'v-newer' },
  });
  await expect(dial(ready)).resolves.toEqual({ outcome: 'established' });
});

test('a retryable establish failure comes back later, by a delayed event and a waiting notice', async () => {
  const { w, dialer, ready, dial } = await accepted();
  const unavailable = new ConsulError(
    'unavailable',
    { method: 'POST', path: '/v1/peering/establish' },
    503,
    'no leader',
    { consulMessage: 'x' },
  );
  dialer.before = (method) => {
    if (method === 'establishPeering') throw unavailable;
  };
  await expect(dial()).resolves.toEqual({ outcome: 'pending' });
  expect(w.published).toHaveLength(1);
  expect(w.published[0]?.event).toMatchObject({
    type: 'peering.acceptor-ready',
    correlationId: 'corr-1',
    data: { ...ready.data, attempt: 1 },
  });
  expect(w.published[0]?.delaySeconds).toBeGreaterThan(0);
  expect(w.waits).toEqual([
    { reason: 'establish-failed', detail: 'no leader', delaySeconds: w.published[0]?.delaySeconds },
  ]);
});

test('an unexpected establish failure is passed on as it is', async () => {
  const { w, dialer, dial } = await accepted();
  const bug = new Error('boom');
  dialer.before = (method) => {
    if (method === 'establishPeering') throw bug;
  };
  await expect(dial()).rejects.toBe(bug);
  expect(w.events()).toEqual([]);
});

test('a permanent peering conflict that is not about the token is a name conflict', async () => {
  const { w, dialer, dial } = await accepted();
  dialer.before = (method) => {
    if (method === 'establishPeering')
      throw new ConsulError(
        'peering-conflict',
        { method: 'POST', path: '/v1/peering/establish' },
        400,
        'dc1 is already an acceptor name here',
        { conflict: 'acceptor-name-in-use', consulMessage: 'x' },
      );
  };
  await expect(dial()).rejects.toMatchObject({ reason: 'name-conflict' });
  expect(w.events()).toMatchObject([
    {
      type: 'peering.failed',
      data: { reason: 'name-conflict', message: 'dc1 is already an acceptor name here' },
    },
  ]);
});

test('the rejected-token count in the failure is the tokens tried', async () => {
  const { w, dialer, ready, dial } = await accepted();
  dialer.before = (method) => {
    if (method === 'establishPeering')
      throw new ConsulError(
        'peering-conflict',
        { method: 'POST', path: '/v1/peering/establish' },
        400,
        'used',
        { conflict: 'token-already-used', consulMessage: 'x' },
      );
  };
  await expect(dial(withData(ready, { regenerations: 2 }))).rejects.toThrow(
    'the acceptor rejected 3 peering tokens; last: used',
  );
  expect(w.events()[0]).toMatchObject({ type: 'peering.failed', data: { reason: 'token-rejected' } });
});

test('an acceptor that does not turn ACTIVE in time: re-checked later, saying what each side reports', async () => {
  const { w, dialer, dial } = await accepted();
  dialer.before = () => undefined; // the acceptor's record stays PENDING
  await expect(dial()).resolves.toEqual({ outcome: 'pending' });
  expect(w.waits).toEqual([
    {
      reason: 'activation-timeout',
      detail: 'the peering did not become ACTIVE on both sides (acceptor PENDING, dialer ACTIVE)',
      delaySeconds: expect.any(Number) as number,
    },
  ]);
  expect(establishes(dialer)).toHaveLength(1);
});

test('both sides absent are named as absent', async () => {
  const { w, acceptor, dialer, dial } = await accepted();
  dialer.establishedState = 'PENDING';
  dialer.before = () => undefined;
  acceptor.peerings.clear();
  await dial();
  expect(w.waits[0]?.detail).toBe(
    'the peering did not become ACTIVE on both sides (acceptor absent, dialer PENDING)',
  );
});

test('a peering turning ACTIVE during the poll is seen without waiting for the queue', async () => {
  const { w, acceptor, dialer, dial } = await accepted();
  let reads = 0;
  dialer.before = () => undefined;
  acceptor.before = (method) => {
    if (method === 'readPeering' && ++reads === 3) {
      const side = acceptor.peerings.get('dc2');
      if (side !== undefined) acceptor.peerings.set('dc2', { ...side, state: 'ACTIVE' });
    }
  };
  await expect(dial()).resolves.toEqual({ outcome: 'established' });
  expect(w.events().map((e) => e.type)).toEqual(['peering.established']);
});

test('the last attempt gives up: peering.failed, and an error for the dead-letter queue', async () => {
  const { w, dialer, ready, dial } = await accepted();
  dialer.before = () => undefined;
  const failure = dial(withData(ready, { attempt: 4 }));
  await expect(failure).rejects.toMatchObject({ reason: 'activation-timeout' });
  await expect(failure).rejects.toThrow(/\(gave up after 5 attempts\)$/);
  expect(w.events().map((e) => e.type)).toEqual(['peering.failed']);
  expect(w.waits).toEqual([]);
});

test('the attempt before the last still re-checks', async () => {
  const { w, dialer, ready, dial } = await accepted();
  dialer.before = () => undefined;
  await expect(dial(withData(ready, { attempt: 3 }))).resolves.toEqual({ outcome: 'pending' });
  expect(w.events()[0]).toMatchObject({ data: { attempt: 4 } });
});

test('a long failure message is cut to what the event carries (2000 characters)', async () => {
  const { w, dialer, dial } = await accepted();
  dialer.before = (method) => {
    if (method === 'establishPeering')
      throw new ConsulError(
        'peering-conflict',
        { method: 'POST', path: '/v1/peering/establish' },
        400,
        'x'.repeat(3000),
        { conflict: 'same-cluster', consulMessage: 'x' },
      );
  };
  await expect(dial()).rejects.toThrow('x'.repeat(3000));
  expect(w.events()[0]).toMatchObject({ data: { message: 'x'.repeat(2000) } });
});

test.each([
  [{ acceptor: 'b-cluster', dialer: 'a-cluster' }, 'dialer'],
  [{ acceptor: 'a-cluster', dialer: 'b-cluster' }, 'acceptor'],
] as const)('the pair lock lives on the cluster whose name sorts first (%j: the %s)', async (names, host) => {
  const { acceptor, dialer, dial } = await accepted(names);
  const locks: string[] = [];
  for (const [side, consul] of [
    ['acceptor', acceptor],
    ['dialer', dialer],
  ] as const) {
    const write = consul.writeKeyCas.bind(consul);
    consul.writeKeyCas = (key, value, cas) => {
      locks.push(`${side} ${key}`);
      return write(key, value, cas);
    };
  }
  await expect(dial()).resolves.toEqual({ outcome: 'established' });
  expect(locks).toEqual([`${host} ${PAIR_LOCK_PREFIX}/a-cluster/b-cluster`]);
});

test('a dialer without a passing gateway says so in its waiting notice', async () => {
  const { w, dialer, dial } = await accepted();
  dialer.services.clear();
  await expect(dial()).resolves.toEqual({ outcome: 'pending' });
  expect(w.waits[0]?.reason).toBe('dialer-gateway-missing');
  expect(w.waits[0]?.detail).toMatch(/cluster "dc2" has no mesh gateway/);
});

test('a dialer record being deleted is re-checked later', async () => {
  const { w, dialer, dial } = await accepted();
  await dial();
  const side = dialer.peerings.get('dc1');
  if (side !== undefined) dialer.peerings.set('dc1', { ...side, state: 'DELETING' });
  w.waits.length = 0;
  await expect(dial()).resolves.toEqual({ outcome: 'pending' });
  expect(w.waits[0]).toMatchObject({
    reason: 'peering-deleting',
    detail: 'the peering "dc1" on dc2 is being deleted',
  });
});

test('an accepted record on the dialer that is TERMINATED is no conflict: it is dialed', async () => {
  const { dialer, dial } = await accepted();
  dialer.peerings.set('dc1', acceptorPeering('dc1', 'x-1', 'TERMINATED'));
  await expect(dial()).resolves.toEqual({ outcome: 'established' });
  expect(establishes(dialer)).toHaveLength(1);
});
