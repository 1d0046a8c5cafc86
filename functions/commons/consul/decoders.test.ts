import {
  decodeAclToken,
  decodeCaRoots,
  decodeHealthService,
  decodePeering,
  decodePeeringList,
  decodeRawConfigEntry,
} from './decoders';
import { ShapeError } from './decoders';

// Shape of api.Peering on 1.15+ (api/peering.go), as /v1/peering/:name returns it.
const ACTIVE_PEERING = {
  ID: '5d6bd6b8-0f2e-2a9c-8b1b-2e6a1d2b4a11',
  Name: 'dc2',
  Partition: '',
  Meta: { 'managed-by': 'consul-peering-automation' },
  State: 'ACTIVE',
  PeerID: 'b3a1c9e0-5f0e-4bd0-9d5a-0f7f2d5e8c22',
  PeerCAPems: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
  PeerServerName: 'server.dc2.peering.11111111-2222-3333-4444-555555555555.consul',
  PeerServerAddresses: ['203.0.113.7:8443'],
  StreamStatus: {
    ImportedServices: ['web'],
    ExportedServices: ['api', 'db'],
    LastHeartbeat: '2026-11-26T15:00:00Z',
    LastReceive: '2026-11-26T15:00:01Z',
    LastSend: null,
  },
  Remote: { Partition: '', Datacenter: 'dc2', Locality: null },
  CreateIndex: 20,
  ModifyIndex: 25,
};

describe('decodePeering', () => {
  it('decodes the current shape', () => {
    expect(decodePeering(ACTIVE_PEERING)).toEqual({
      id: ACTIVE_PEERING.ID,
      name: 'dc2',
      partition: '',
      state: 'ACTIVE',
      rawState: 'ACTIVE',
      peerId: ACTIVE_PEERING.PeerID,
      peerServerName: ACTIVE_PEERING.PeerServerName,
      peerServerAddresses: ['203.0.113.7:8443'],
      peerCaPems: ACTIVE_PEERING.PeerCAPems,
      meta: { 'managed-by': 'consul-peering-automation' },
      deletedAt: undefined,
      remote: { partition: '', datacenter: 'dc2' },
      stream: {
        importedServices: ['web'],
        exportedServices: ['api', 'db'],
        importedServiceCount: 1,
        exportedServiceCount: 2,
        lastHeartbeat: '2026-11-26T15:00:00Z',
        lastReceive: '2026-11-26T15:00:01Z',
        lastSend: undefined,
      },
      createIndex: 20,
      modifyIndex: 25,
    });
  });

  it('accepts the 1.13/1.14 builds that report counts instead of StreamStatus', () => {
    const legacy: Record<string, unknown> = {
      ...ACTIVE_PEERING,
      ImportedServiceCount: 3,
      ExportedServiceCount: 0,
    };
    delete legacy.StreamStatus;
    delete legacy.Remote;
    const peering = decodePeering(legacy);
    expect(peering.stream).toMatchObject({
      importedServices: undefined,
      exportedServices: undefined,
      importedServiceCount: 3,
      exportedServiceCount: 0,
    });
    expect(peering.remote).toBeUndefined();
  });

  it('reads a freshly generated acceptor record (PENDING, Go zero values as null)', () => {
    const peering = decodePeering({
      ID: 'id-1',
      Name: 'dc2',
      State: 'PENDING',
      PeerCAPems: null,
      PeerServerAddresses: null,
      Meta: null,
      StreamStatus: { ImportedServices: null, ExportedServices: null },
    });
    expect(peering).toMatchObject({
      state: 'PENDING',
      peerId: undefined,
      peerServerAddresses: [],
      peerCaPems: [],
      meta: {},
      createIndex: 0,
    });
    expect(peering.stream.importedServiceCount).toBe(0);
  });

  it.each([
    ['INITIAL', 'PENDING'],
    ['deleting', 'DELETING'],
    [undefined, 'UNDEFINED'],
    ['', 'UNDEFINED'],
    [6, 'TERMINATED'],
    [3, 'ACTIVE'],
    [42, 'UNKNOWN'],
    ['SOMETHING_NEW', 'UNKNOWN'],
  ])('maps State %j to %s and keeps the raw text', (raw, state) => {
    const peering = decodePeering({ ID: 'x', Name: 'y', State: raw });
    expect(peering.state).toBe(state);
    expect(peering.rawState).toBe(raw === undefined ? '' : String(raw));
  });

  it('keeps DeletedAt of a peering being deleted', () => {
    expect(
      decodePeering({ ...ACTIVE_PEERING, State: 'DELETING', DeletedAt: '2026-11-26T15:05:00Z' }),
    ).toMatchObject({
      state: 'DELETING',
      deletedAt: '2026-11-26T15:05:00Z',
    });
  });

  it('rejects what is not a peering', () => {
    expect(() => decodePeering({ Name: 'no id' })).toThrow(ShapeError);
    expect(() => decodePeering('<html>')).toThrow(ShapeError);
  });

  it('decodes a null list as empty', () => {
    expect(decodePeeringList(null)).toEqual([]);
    expect(decodePeeringList([ACTIVE_PEERING])).toHaveLength(1);
  });
});

describe('decodeRawConfigEntry', () => {
  it('returns the entry untouched, unknown fields included', () => {
    const json = {
      Kind: 'mesh',
      TransparentProxy: { MeshDestinationsOnly: false },
      SomeFutureField: { Nested: [1, 'two', null] },
      Peering: { PeerThroughMeshGateways: true },
      Hash: 1234567,
      CreateIndex: 10,
      ModifyIndex: 17,
    };
    const raw = decodeRawConfigEntry(json);
    expect(raw.modifyIndex).toBe(17);
    expect(JSON.stringify(raw.entry)).toBe(JSON.stringify(json));
  });

  it('requires Kind and ModifyIndex, which writing it back depends on', () => {
    expect(() => decodeRawConfigEntry({ Kind: 'mesh' })).toThrow(ShapeError);
    expect(() => decodeRawConfigEntry({ ModifyIndex: 3 })).toThrow(ShapeError);
  });
});

describe('decodeHealthService', () => {
  const entry = (statuses: string[]): unknown => ({
    Node: {
      Node: 'gw-node',
      Address: '10.0.1.5',
      Datacenter: 'dc1',
      TaggedAddresses: { wan: '203.0.113.7' },
    },
    Service: {
      ID: 'mesh-gateway',
      Service: 'mesh-gateway',
      Kind: 'mesh-gateway',
      Address: '10.0.1.5',
      Port: 8443,
      TaggedAddresses: {
        lan: { Address: '10.0.1.5', Port: 8443 },
        wan: { Address: '203.0.113.7', Port: 8443 },
      },
      Meta: null,
      Tags: null,
    },
    Checks: statuses.map((Status, i) => ({ CheckID: `c${i}`, Name: `check ${i}`, Status, ServiceID: '' })),
  });

  it('decodes addresses and derives the worst check status', () => {
    const [instance] = decodeHealthService([entry(['passing', 'warning'])]);
    expect(instance?.service.taggedAddresses.wan).toEqual({ address: '203.0.113.7', port: 8443 });
    expect(instance?.node.taggedAddresses).toEqual({ wan: '203.0.113.7' });
    expect(instance?.service.meta).toEqual({});
    expect(instance?.status).toBe('warning');
  });

  it.each([
    [[], 'passing'],
    [['passing', 'critical', 'warning'], 'critical'],
    [['passing', 'maintenance'], 'unknown'],
  ])('checks %j → %s', (statuses, status) => {
    expect(decodeHealthService([entry(statuses)])[0]?.status).toBe(status);
  });
});

describe('decodeAclToken', () => {
  it('never carries the SecretID', () => {
    const token = decodeAclToken({
      AccessorID: 'acc-1',
      SecretID: 'very-secret-0000',
      Description: 'mesh gateway',
      Policies: [{ ID: 'p1', Name: 'mesh-gateway' }],
      Local: true,
    });
    expect(JSON.stringify(token)).not.toContain('very-secret-0000');
    expect(token).toMatchObject({
      accessorId: 'acc-1',
      local: true,
      policies: [{ id: 'p1', name: 'mesh-gateway' }],
    });
  });
});

describe('decodeCaRoots', () => {
  it('decodes an uninitialised CA as empty', () => {
    expect(decodeCaRoots({ ActiveRootID: '', TrustDomain: '', Roots: null })).toEqual({
      activeRootId: '',
      trustDomain: '',
      roots: [],
    });
  });
});
