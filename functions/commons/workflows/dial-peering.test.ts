import { ConsulError, type PeeringConflict } from '#commons/ports/consul-error';
import type { HealthServiceInstance, Peering } from '../ports/consul-types';
import { PermanentError } from '../errors';
import { createEvent, type PipelineEvent } from '../events';
import { peeringTokenSecretName } from '../naming';
import type { ConsulApi } from '../ports/consul-api';
import type { SecretStore } from '../ports/secret-store';
import { DEFAULT_SETTINGS, type WorkflowContext } from './context';
import { dialPeering } from './dial-peering';
import { memoryKv } from './memory-kv.test-support';

// The dial workflow's decisions on Consul's refusals, over a fake port (the real agent's behaviour is
// covered by the integration tests; here: what the workflow does with each answer).
const PREFIX = 'consul-peering';
const ref = (name: string) => ({ name, connectionSecret: `${PREFIX}/clusters/${name}` });
const tokenSecret = peeringTokenSecretName(PREFIX, 'dc1', 'dc2');

const passingGateway = {
  service: { id: 'mesh-gateway', kind: 'mesh-gateway' },
  status: 'passing',
} as unknown as HealthServiceInstance;

function fakeConsul(overrides: Partial<ConsulApi>): ConsulApi {
  return {
    readConfigEntryRaw: () =>
      Promise.resolve({
        entry: { Kind: 'mesh', Peering: { PeerThroughMeshGateways: true } },
        modifyIndex: 1,
      }),
    healthService: () => Promise.resolve([passingGateway]),
    readPeering: () => Promise.resolve(undefined),
    ...memoryKv(),
    ...overrides,
  } as ConsulApi;
}

function setup(dialer: ConsulApi, { regenerations = 0 } = {}) {
  const published: PipelineEvent[] = [];
  const secrets = {
    get: () =>
      Promise.resolve({
        name: tokenSecret,
        versionId: 'v1',
        value: JSON.stringify({ peeringToken: 'tok', peeringId: 'p', acceptor: 'dc1', dialer: 'dc2' }),
      }),
  } as unknown as SecretStore;
  const context: WorkflowContext = {
    clusters: {
      connect: (c) =>
        Promise.resolve({
          api: c.name === 'dc2' ? dialer : fakeConsul({}),
          connection: { address: `https://${c.name}.example:8501`, token: 't' },
          gatewayService: 'mesh-gateway',
        }),
    },
    secrets,
    events: { publish: (event) => Promise.resolve(void published.push(event)) },
    clock: { now: () => new Date() },
    log: { info: () => undefined, warn: () => undefined },
    settings: {
      ...DEFAULT_SETTINGS,
      secretPrefix: PREFIX,
      activationPollMs: 0,
      readinessWaitMs: 0,
      maxRegenerations: 2,
    },
  };
  const event = createEvent(
    'peering.acceptor-ready',
    {
      acceptor: ref('dc1'),
      dialer: ref('dc2'),
      tokenSecret,
      tokenVersion: 'v1',
      peeringId: '9d5fce55-5473-8891-4792-a9fb82da0919',
      attempt: 0,
      regenerations,
    },
    { correlationId: 'c' },
  );
  return { run: () => dialPeering(event, context), published };
}

const refusal = (kind: PeeringConflict) =>
  new ConsulError(
    'peering-conflict',
    { method: 'POST', path: '/v1/peering/establish' },
    403,
    `refused: ${kind}`,
    { conflict: kind, consulMessage: kind },
  );

test.each(['token-already-used', 'token-superseded', 'token-rejected'] as const)(
  'a %s token makes the dialer ask the acceptor for a new one',
  async (kind) => {
    const { run, published } = setup(fakeConsul({ establishPeering: () => Promise.reject(refusal(kind)) }));
    await expect(run()).resolves.toEqual({ outcome: 'regenerating' });
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      type: 'peering.requested',
      correlationId: 'c',
      data: { regenerateToken: true, regenerations: 1 },
    });
  },
);

test('regeneration is bounded: past maxRegenerations the peering fails with a reason and is dead-lettered', async () => {
  const { run, published } = setup(
    fakeConsul({ establishPeering: () => Promise.reject(refusal('token-already-used')) }),
    { regenerations: 2 },
  );
  await expect(run()).rejects.toThrow(PermanentError);
  expect(published.map((e) => e.type)).toEqual(['peering.failed']);
  expect(published[0]).toMatchObject({ data: { reason: 'token-rejected' } });
});

test('a name already used in the other direction fails at once, without trying to establish', async () => {
  const establishPeering = jest.fn(() => Promise.resolve());
  const accepted = { name: 'dc1', state: 'ACTIVE', peerServerAddresses: [], meta: {} } as unknown as Peering;
  const { run, published } = setup(
    fakeConsul({ readPeering: () => Promise.resolve(accepted), establishPeering }),
  );
  await expect(run()).rejects.toThrow(
    /"dc2" already accepts a peering from "dc1" \(the direction dc2→dc1 exists/,
  );
  expect(establishPeering).not.toHaveBeenCalled();
  expect(published[0]).toMatchObject({ type: 'peering.failed', data: { reason: 'name-conflict' } });
});

test('a peering being deleted is checked again later through a delayed event, not by sleeping', async () => {
  const deleting = {
    name: 'dc1',
    state: 'DELETING',
    peerServerAddresses: ['x:1'],
    meta: {},
  } as unknown as Peering;
  const { run, published } = setup(fakeConsul({ readPeering: () => Promise.resolve(deleting) }));
  await expect(run()).resolves.toEqual({ outcome: 'pending' });
  expect(published[0]).toMatchObject({ type: 'peering.acceptor-ready', data: { attempt: 1 } });
});

test('a dialer without a passing gateway is never established: it waits, then fails with the precondition', async () => {
  const establishPeering = jest.fn(() => Promise.resolve());
  const { run, published } = setup(
    fakeConsul({ healthService: () => Promise.resolve([]), establishPeering }),
  );
  await expect(run()).resolves.toEqual({ outcome: 'pending' });
  expect(establishPeering).not.toHaveBeenCalled();
  expect(published[0]).toMatchObject({ type: 'peering.acceptor-ready', data: { attempt: 1 } });
});

test.each([
  ['absent', undefined],
  [
    'without the flag',
    { entry: { Kind: 'mesh', Peering: { PeerThroughMeshGateways: false } }, modifyIndex: 1 },
  ],
])(
  "a dialer whose mesh entry is %s is never established: the flag comes before establish (Consul would dial the acceptor's servers directly)",
  async (_case, mesh) => {
    const establishPeering = jest.fn(() => Promise.resolve());
    const { run, published } = setup(
      fakeConsul({ readConfigEntryRaw: () => Promise.resolve(mesh), establishPeering }),
    );
    await expect(run()).resolves.toEqual({ outcome: 'pending' });
    expect(establishPeering).not.toHaveBeenCalled();
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ type: 'peering.acceptor-ready', data: { attempt: 1 } });
  },
);

test("the dialer's mesh flag and gateway are read before establishing", async () => {
  const calls: string[] = [];
  const record =
    <T>(name: string, value: T) =>
    () => {
      calls.push(name);
      return Promise.resolve(value);
    };
  const dialer = fakeConsul({
    readConfigEntryRaw: record('mesh', {
      entry: { Kind: 'mesh', Peering: { PeerThroughMeshGateways: true } },
      modifyIndex: 1,
    }),
    healthService: record('gateway', [passingGateway]),
    establishPeering: record('establish', undefined),
  });
  const { run } = setup(dialer);
  await run();
  expect(calls.slice(0, 3)).toEqual(['mesh', 'gateway', 'establish']);
});
