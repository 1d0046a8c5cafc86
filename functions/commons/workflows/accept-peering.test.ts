import { ConsulError } from '#commons/ports/consul-error';
import { NotReadyError, PermanentError, ValidationError } from '../errors';
import { createEvent, type EventDataInput, type EventOf } from '../events';
import {
  MANAGED_BY_KEY,
  MANAGED_BY_VALUE,
  peeringRecordSecretName,
  peeringTokenSecretName,
  TAG_ACCEPTOR,
  TAG_DIALER,
  TAG_KIND,
} from '../naming';
import { acceptPeering, peeringIdOfToken, type PeeringTokenSecret } from './accept-peering';
import { GatewayPreconditionError } from './ensure-mesh-gateway';
import { acceptorPeering, dialerPeering, gatewayInstance } from './memory-consul.test-support';
import { MemoryWorld, NOW, PREFIX, ref } from './memory-world.test-support';
import { PAIR_LOCK_PREFIX } from './pair-lock';

// acceptPeering over in-memory ports: what it refuses, what it writes, and in which order. The real
// agents' side of the same rules is in test/integration (ordering, full mesh).
const TOKEN_SECRET = peeringTokenSecretName(PREFIX, 'dc1', 'dc2');

function requested(
  data: Partial<EventDataInput<'peering.requested'>> = {},
  options: { id?: string; time?: Date } = {},
): EventOf<'peering.requested'> {
  return createEvent(
    'peering.requested',
    { acceptor: ref('dc1'), dialer: ref('dc2'), ...data },
    { correlationId: 'corr-1', time: NOW, ...options },
  );
}

/** A typical service (no Kind) that happens to carry the gateway's name. */
function plainService(name: string) {
  const instance = gatewayInstance(name);
  return { ...instance, service: { ...instance.service, kind: undefined } };
}

function world() {
  const w = new MemoryWorld();
  const dc1 = w.add('dc1');
  const dc2 = w.add('dc2');
  return { w, dc1, dc2, accept: (event = requested()) => acceptPeering(event, w.context()) };
}

function storedToken(w: MemoryWorld): PeeringTokenSecret {
  const stored = w.secrets.values.get(TOKEN_SECRET);
  if (stored === undefined) throw new Error('no stored peering token');
  return JSON.parse(stored.value) as PeeringTokenSecret;
}

describe('a first request', () => {
  test('generates a token on the acceptor, stores it, and hands over its name and version only', async () => {
    const { w, dc1, dc2, accept } = world();
    const event = requested({ regenerations: 1 });

    await expect(accept(event)).resolves.toEqual({ generated: true });

    const peering = dc1.peerings.get('dc2');
    expect(peering).toBeDefined();
    expect(dc1.writes()).toEqual([
      `generatePeeringToken ${JSON.stringify({ peerName: 'dc2', meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE } })}`,
    ]);
    expect(dc2.writes()).toEqual([]);
    const token = storedToken(w);
    expect(token).toEqual({
      peeringToken: expect.any(String) as string,
      peeringId: peering?.id,
      acceptor: 'dc1',
      dialer: 'dc2',
      generatedAt: NOW.toISOString(),
      requestId: event.id,
    });
    expect(peeringIdOfToken(token.peeringToken)).toBe(peering?.id);
    expect(w.secrets.created.get(TOKEN_SECRET)?.tags).toEqual({
      [TAG_KIND]: 'peering-token',
      [TAG_ACCEPTOR]: 'dc1',
      [TAG_DIALER]: 'dc2',
    });

    expect(w.events()).toHaveLength(1);
    const [ready] = w.events();
    expect(ready).toMatchObject({
      type: 'peering.acceptor-ready',
      correlationId: 'corr-1',
      data: {
        acceptor: ref('dc1'),
        dialer: ref('dc2'),
        tokenSecret: TOKEN_SECRET,
        tokenVersion: w.secrets.values.get(TOKEN_SECRET)?.versionId,
        peeringId: peering?.id,
        attempt: 0,
        regenerations: 1,
      },
    });
    expect(JSON.stringify(w.published)).not.toContain(token.peeringToken);
  });

  test('without a regeneration count, the hand-over starts at zero regenerations', async () => {
    const { w, accept } = world();
    await accept();
    expect(w.events()[0]).toMatchObject({ data: { regenerations: 0 } });
  });

  test('records the wanted peering, with its exports sorted and deduplicated', async () => {
    const { w, accept } = world();
    await accept(requested({ exportServices: ['web', 'api', 'web'] }));
    const record = w.secrets.values.get(peeringRecordSecretName(PREFIX, 'dc1', 'dc2'));
    expect(JSON.parse(record?.value ?? '')).toEqual({
      acceptor: 'dc1',
      dialer: 'dc2',
      exportServices: ['api', 'web'],
    });
  });

  test('an unknown dialer is refused before anything is written', async () => {
    const { w, dc1, accept } = world();
    await expect(accept(requested({ dialer: ref('dc9') }))).rejects.toBeInstanceOf(ValidationError);
    expect(dc1.calls).toEqual([]);
    expect(w.secrets.writes).toBe(0);
    expect(w.events()).toEqual([]);
  });
});

describe('the preconditions come first (docs/consul-behaviour.md: the flag before the token)', () => {
  test.each([
    ['the mesh entry is absent', undefined],
    ['the flag is off', { Peering: { PeerThroughMeshGateways: false } }],
    ['the flag is a string', { Peering: { PeerThroughMeshGateways: 'true' } }],
    ['the entry has no Peering block', { Meta: { owner: 'ops' } }],
  ])('no token while %s: the request waits for onboarding', async (_case, mesh) => {
    const { w, dc1, accept } = world();
    dc1.configEntries.clear();
    if (mesh !== undefined) dc1.putMeshEntry(mesh);

    const failure = accept();

    await expect(failure).rejects.toBeInstanceOf(GatewayPreconditionError);
    await expect(failure).rejects.toMatchObject({ kind: 'mesh-config-missing', retryable: true });
    await expect(failure).rejects.toThrow(/cluster "dc1" .*Peering\.PeerThroughMeshGateways/);
    expect(dc1.writes()).toEqual([]);
    expect(w.secrets.values.has(TOKEN_SECRET)).toBe(false);
    expect(w.events()).toEqual([]);
  });

  test('the flag is checked on the acceptor, not on the dialer', async () => {
    const { dc2, accept } = world();
    dc2.configEntries.clear();
    await expect(accept()).resolves.toEqual({ generated: true });
  });

  test.each([
    ['no gateway is registered', [], 'gateway-missing', /no mesh gateway "mesh-gateway" registered/],
    [
      'the gateway is not passing',
      [gatewayInstance('mesh-gateway', 'critical')],
      'gateway-not-passing',
      /1 mesh gateway instance\(s\) "mesh-gateway" but none is passing/,
    ],
    [
      'the service is not a mesh gateway',
      [plainService('mesh-gateway')],
      'gateway-missing',
      /no mesh gateway/,
    ],
  ])('no token while %s', async (_case, instances, kind, message) => {
    const { w, dc1, accept } = world();
    dc1.services.clear();
    for (const instance of instances) dc1.services.set(instance.service.id, instance);

    const failure = accept();

    await expect(failure).rejects.toMatchObject({ kind });
    await expect(failure).rejects.toThrow(message);
    expect(dc1.writes()).toEqual([]);
    expect(w.events()).toEqual([]);
  });

  test("the gateway checked is the acceptor's own service", async () => {
    const w = new MemoryWorld();
    const dc1 = w.add('dc1', { gatewayService: 'edge' });
    w.add('dc2');
    await expect(acceptPeering(requested(), w.context())).resolves.toEqual({ generated: true });
    expect(dc1.calls).toContain('healthService edge');
  });

  test('the mesh entry is read, and the gateway checked, before any token is generated', async () => {
    const { dc1, accept } = world();
    await accept();
    const order = dc1.calls.map((c) => c.split(' ')[0]);
    expect(order.indexOf('readConfigEntryRaw')).toBeLessThan(order.indexOf('healthService'));
    expect(order.indexOf('healthService')).toBeLessThan(order.indexOf('generatePeeringToken'));
  });

  test('a flag onboarding writes while the request waits is seen: the token is generated after it', async () => {
    const { w, dc1, accept } = world();
    w.settings.readinessWaitMs = 1_000;
    w.tickMs = 1;
    dc1.configEntries.clear();
    let meshReads = 0;
    let flagWhenGenerating: unknown;
    dc1.before = (method) => {
      if (method === 'readConfigEntryRaw' && ++meshReads === 3) {
        dc1.putMeshEntry({ Peering: { PeerThroughMeshGateways: true } });
      }
      if (method === 'generatePeeringToken') {
        flagWhenGenerating = dc1.configEntries.get('mesh/mesh')?.entry.Peering;
      }
    };

    await expect(accept()).resolves.toEqual({ generated: true });
    expect(meshReads).toBeGreaterThanOrEqual(3);
    expect(flagWhenGenerating).toEqual({ PeerThroughMeshGateways: true });
  });
});

describe('a replay', () => {
  test('of a converged request writes nothing, takes no lock, and hands over the same version', async () => {
    const { w, dc1, dc2, accept } = world();
    await accept();
    const first = w.events()[0];
    const versions = w.secrets.writes;
    dc1.calls.length = 0;
    dc2.calls.length = 0;

    await expect(accept()).resolves.toEqual({ generated: false });

    expect(dc1.writes()).toEqual([]);
    expect(dc1.calls.filter((c) => c.startsWith('writeKeyCas') || c.startsWith('readKey'))).toEqual([]);
    expect(dc2.calls).toEqual([]);
    expect(w.secrets.writes).toBe(versions);
    expect(w.events()[1]?.data).toEqual(first?.data);
  });

  test.each(['PENDING', 'ESTABLISHING', 'ACTIVE', 'FAILING'] as const)(
    'of a request whose peering is %s reuses the stored token',
    async (state) => {
      const { dc1, accept } = world();
      await accept();
      const peering = dc1.peerings.get('dc2');
      if (peering !== undefined) dc1.peerings.set('dc2', { ...peering, state });
      await expect(accept()).resolves.toEqual({ generated: false });
      expect(dc1.writes()).toHaveLength(1);
    },
  );
});

describe('a new token is generated when none is usable', () => {
  test('the stored token is for an older peering: a new one is generated for the current peering', async () => {
    const { w, dc1, accept } = world();
    dc1.peerings.set('dc2', acceptorPeering('dc2', '11111111-2222-3333-4444-555555555555'));
    await w.secrets.put(
      TOKEN_SECRET,
      JSON.stringify({ peeringToken: 'old', peeringId: 'older-peering', acceptor: 'dc1', dialer: 'dc2' }),
    );

    await expect(accept()).resolves.toEqual({ generated: true });
    expect(storedToken(w).peeringId).toBe('11111111-2222-3333-4444-555555555555');
    expect(w.events()[0]).toMatchObject({ data: { peeringId: '11111111-2222-3333-4444-555555555555' } });
  });

  test.each([
    ['not JSON', 'not json'],
    ['not a token secret', JSON.stringify({ peeringToken: 'x' })],
  ])('the stored secret is %s', async (_case, value) => {
    const { w, dc1, accept } = world();
    dc1.peerings.set('dc2', acceptorPeering('dc2', '11111111-2222-3333-4444-555555555555'));
    await w.secrets.put(TOKEN_SECRET, value);
    await expect(accept()).resolves.toEqual({ generated: true });
    expect(storedToken(w).peeringId).toBe('11111111-2222-3333-4444-555555555555');
  });

  test('a peering the dialer deleted (TERMINATED) is deleted first; the retry generates a fresh one', async () => {
    const { w, dc1, accept } = world();
    await accept();
    const old = dc1.peerings.get('dc2');
    if (old !== undefined) dc1.peerings.set('dc2', { ...old, state: 'TERMINATED' });

    const failure = accept();
    await expect(failure).rejects.toBeInstanceOf(NotReadyError);
    await expect(failure).rejects.toThrow(/deleted the TERMINATED peering "dc2" on dc1/);
    expect(dc1.writes().slice(1)).toEqual(['deletePeering dc2']);
    expect(w.events()).toHaveLength(1);

    await expect(accept()).resolves.toEqual({ generated: true });
    expect(dc1.peerings.get('dc2')?.id).not.toBe(old?.id);
    expect(storedToken(w).peeringId).toBe(dc1.peerings.get('dc2')?.id);
  });

  test('a TERMINATED record that the acceptor once dialed is no conflict: it is cleared the same way', async () => {
    const { dc1, accept } = world();
    dc1.peerings.set('dc2', dialerPeering('dc2', 'd-1', 'TERMINATED'));
    await expect(accept()).rejects.toBeInstanceOf(NotReadyError);
    expect(dc1.writes()).toEqual(['deletePeering dc2']);
  });
});

describe('regeneration (the dialer was refused the token)', () => {
  async function converged() {
    const setup = world();
    await setup.accept(requested({}, { time: new Date(NOW.getTime() - 60_000) }));
    return setup;
  }

  test('generates a new token, as a new version of the same secret', async () => {
    const { w, dc1, accept } = await converged();
    const before = w.secrets.values.get(TOKEN_SECRET);
    const event = requested({ regenerateToken: true, regenerations: 1 });

    await expect(accept(event)).resolves.toEqual({ generated: true });

    const after = w.secrets.values.get(TOKEN_SECRET);
    expect(after?.versionId).not.toBe(before?.versionId);
    expect(storedToken(w).requestId).toBe(event.id);
    expect(dc1.writes().filter((c) => c.startsWith('generatePeeringToken'))).toHaveLength(2);
    expect(w.events()[1]).toMatchObject({ data: { tokenVersion: after?.versionId, regenerations: 1 } });
  });

  test('a redelivered regeneration request does not regenerate twice', async () => {
    const { w, accept } = await converged();
    const event = requested({ regenerateToken: true }, { time: new Date(NOW.getTime() + 1_000) });
    await accept(event);
    const version = w.secrets.values.get(TOKEN_SECRET)?.versionId;

    await expect(accept(event)).resolves.toEqual({ generated: false });
    expect(w.secrets.values.get(TOKEN_SECRET)?.versionId).toBe(version);
  });

  test('a token generated after the request was made is the new token it asked for', async () => {
    const { w, accept } = await converged();
    // The token was generated at NOW; a request made a second earlier is satisfied by it.
    const late = requested({ regenerateToken: true }, { time: new Date(NOW.getTime() - 1_000) });
    const version = w.secrets.values.get(TOKEN_SECRET)?.versionId;
    await expect(accept(late)).resolves.toEqual({ generated: false });
    expect(w.secrets.values.get(TOKEN_SECRET)?.versionId).toBe(version);
  });

  test('a token generated at the very instant of the request does not satisfy it', async () => {
    const { accept } = await converged();
    await expect(accept(requested({ regenerateToken: true }, { time: NOW }))).resolves.toEqual({
      generated: true,
    });
  });

  test('a stored token without a generation time is regenerated', async () => {
    const { w, dc1, accept } = await converged();
    const rest: Partial<PeeringTokenSecret> = storedToken(w);
    delete rest.generatedAt;
    await w.secrets.put(TOKEN_SECRET, JSON.stringify(rest));
    expect(dc1.peerings.get('dc2')?.id).toBe(rest.peeringId);
    await expect(accept(requested({ regenerateToken: true }))).resolves.toEqual({ generated: true });
  });

  test('regenerateToken false is an ordinary request', async () => {
    const { accept } = await converged();
    await expect(accept(requested({ regenerateToken: false }))).resolves.toEqual({ generated: false });
  });
});

describe('refusals', () => {
  test('a peering being deleted on the acceptor is retried later, with nothing written', async () => {
    const { w, dc1, accept } = world();
    dc1.peerings.set('dc2', acceptorPeering('dc2', 'p-1', 'DELETING'));
    const failure = accept();
    await expect(failure).rejects.toBeInstanceOf(NotReadyError);
    await expect(failure).rejects.toThrow(/peering "dc2" is being deleted/);
    expect(dc1.writes()).toEqual([]);
    expect(w.events()).toEqual([]);
  });

  test.each(['ACTIVE', 'PENDING', 'FAILING'] as const)(
    'the acceptor already dials the dialer (%s): a name conflict, permanent, nothing written',
    async (state) => {
      const { w, dc1, accept } = world();
      dc1.peerings.set('dc2', dialerPeering('dc2', 'd-1', state));
      const failure = accept();
      await expect(failure).rejects.toBeInstanceOf(PermanentError);
      await expect(failure).rejects.toMatchObject({ reason: 'name-conflict' });
      await expect(failure).rejects.toThrow(
        new RegExp(`"dc1" already dials "dc2" \\(the direction dc2→dc1 exists, ${state}\\)`),
      );
      expect(dc1.writes()).toEqual([]);
      expect(w.events()).toEqual([]);
    },
  );

  test.each(['ACTIVE', 'PENDING'] as const)(
    'the mirror direction exists (the dialer accepted the acceptor, %s): refused, no token',
    async (state) => {
      const { w, dc1, dc2, accept } = world();
      dc2.peerings.set('dc1', acceptorPeering('dc1', 'm-1', state));
      const failure = accept();
      await expect(failure).rejects.toMatchObject({ reason: 'name-conflict', retryable: false });
      await expect(failure).rejects.toThrow(
        new RegExp(`"dc2" already accepts a peering from "dc1" \\(the direction dc2→dc1 exists, ${state}\\)`),
      );
      expect(dc1.writes()).toEqual([]);
      expect(w.secrets.values.has(TOKEN_SECRET)).toBe(false);
      expect(w.events()).toEqual([]);
    },
  );

  test.each([
    ['the dialer dials the acceptor (this pairing, already established once)', dialerPeering('dc1', 'd-1')],
    ['the mirror is TERMINATED', acceptorPeering('dc1', 'm-1', 'TERMINATED')],
    ['the mirror is being deleted', acceptorPeering('dc1', 'm-1', 'DELETING')],
  ])('no conflict when %s', async (_case, mirror) => {
    const { dc2, accept } = world();
    dc2.peerings.set('dc1', mirror);
    await expect(accept()).resolves.toEqual({ generated: true });
  });

  test("Consul's permanent refusal to generate is a name conflict naming both clusters", async () => {
    const { w, dc1, accept } = world();
    const refusal = new ConsulError(
      'peering-conflict',
      { method: 'POST', path: '/v1/peering/token' },
      400,
      'a peering named dc2 is dialing',
      { conflict: 'dialer-name-in-use', consulMessage: 'consul says no' },
    );
    dc1.before = (method) => {
      if (method === 'generatePeeringToken') throw refusal;
    };
    const failure = accept();
    await expect(failure).rejects.toBeInstanceOf(PermanentError);
    await expect(failure).rejects.toMatchObject({ reason: 'name-conflict', cause: refusal });
    await expect(failure).rejects.toThrow(
      /dc1 cannot accept a peering named "dc2": a peering named dc2 is dialing/,
    );
    expect(w.secrets.values.has(TOKEN_SECRET)).toBe(false);
    expect(w.events()).toEqual([]);
  });

  test.each([
    [
      'a retryable peering conflict (being deleted)',
      new ConsulError('peering-conflict', { method: 'POST', path: '/v1/peering/token' }, 400, 'deleting', {
        conflict: 'deleting',
        consulMessage: 'deleting',
      }),
    ],
    [
      'an unavailable Consul',
      new ConsulError('unavailable', { method: 'POST', path: '/v1/peering/token' }, 503, 'x', {
        consulMessage: 'x',
      }),
    ],
  ])('%s is passed on as it is, for the queue to retry', async (_case, error) => {
    const { w, dc1, accept } = world();
    dc1.before = (method) => {
      if (method === 'generatePeeringToken') throw error;
    };
    await expect(accept()).rejects.toBe(error);
    expect(w.events()).toEqual([]);
  });
});

describe('the pair lock', () => {
  test('lives on the cluster whose name sorts first, whichever side accepts', async () => {
    const w = new MemoryWorld();
    const b = w.add('b-cluster');
    const a = w.add('a-cluster');
    const kvCalls: string[] = [];
    for (const [name, consul] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const write = consul.writeKeyCas.bind(consul);
      consul.writeKeyCas = (key, value, cas) => {
        kvCalls.push(`${name} ${key}`);
        return write(key, value, cas);
      };
    }
    const event = createEvent(
      'peering.requested',
      { acceptor: ref('b-cluster'), dialer: ref('a-cluster') },
      { correlationId: 'c' },
    );
    await expect(acceptPeering(event, w.context())).resolves.toEqual({ generated: true });
    expect(kvCalls).toEqual([`a ${PAIR_LOCK_PREFIX}/a-cluster/b-cluster`]);
  });

  test('is decided again under the lock: a token stored while waiting for it is reused', async () => {
    const { w, dc1, accept } = world();
    // Another run generates (and stores) a token between this run's first decision and its lock.
    let raced = false;
    const write = dc1.writeKeyCas.bind(dc1);
    dc1.writeKeyCas = async (key, value, cas) => {
      if (!raced) {
        raced = true;
        await acceptPeering(requested(), { ...w.context(), events: { publish: () => Promise.resolve() } });
      }
      return write(key, value, cas);
    };

    await expect(accept()).resolves.toEqual({ generated: false });
    expect(dc1.writes().filter((c) => c.startsWith('generatePeeringToken'))).toHaveLength(1);
    expect(w.events()[0]).toMatchObject({
      data: { tokenVersion: w.secrets.values.get(TOKEN_SECRET)?.versionId },
    });
  });
});

describe('exports', () => {
  test('are written after the token (they need the peering record), to the dialer as consumer', async () => {
    const { dc1, accept } = world();
    await accept(requested({ exportServices: ['web'] }));
    const writes = dc1.writes().map((c) => c.split(' ')[0]);
    expect(writes).toEqual(['generatePeeringToken', 'writeConfigEntryCas']);
    expect(dc1.configEntries.get('exported-services/default')?.entry).toMatchObject({
      Services: [{ Name: 'web', Consumers: [{ Peer: 'dc2' }] }],
    });
  });

  test('a re-request without exports keeps the recorded ones', async () => {
    const { w, dc1, accept } = world();
    await accept(requested({ exportServices: ['web'] }));
    dc1.configEntries.delete('exported-services/default');
    await accept(requested({ regenerateToken: true, regenerations: 1 }));
    expect(dc1.configEntries.get('exported-services/default')?.entry).toMatchObject({
      Services: [{ Name: 'web', Consumers: [{ Peer: 'dc2' }] }],
    });
    expect(
      JSON.parse(w.secrets.values.get(peeringRecordSecretName(PREFIX, 'dc1', 'dc2'))?.value ?? ''),
    ).toEqual({ acceptor: 'dc1', dialer: 'dc2', exportServices: ['web'] });
  });
});

describe('peeringIdOfToken', () => {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

  test("reads the acceptor's peering ID out of Consul's token", () => {
    expect(peeringIdOfToken(encode({ PeerID: 'abc', ServerName: 'server.dc1' }))).toBe('abc');
  });

  test.each([
    ['not base64 JSON', Buffer.from('nope').toString('base64')],
    ['JSON null', encode(null)],
    ['without PeerID', encode({ ServerName: 'x' })],
    ['with an empty PeerID', encode({ PeerID: '' })],
    ['with a numeric PeerID', encode({ PeerID: 7 })],
  ])('refuses a token %s, naming the likely cause', (_case, token) => {
    expect(() => peeringIdOfToken(token)).toThrow(/without a PeerID; is this Consul 1\.14 or newer\?/);
    expect(() => peeringIdOfToken(token)).toThrow(
      expect.objectContaining({ reason: 'unexpected-token' }) as PermanentError,
    );
  });
});
