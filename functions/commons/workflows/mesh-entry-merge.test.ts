import fc from 'fast-check';
import { PermanentError } from '../errors';
import { meshEntryWithPeeringThroughGateways, peersThroughMeshGateways } from './mesh-entry-merge';

describe('meshEntryWithPeeringThroughGateways', () => {
  test('creates the entry when there is none', () => {
    expect(meshEntryWithPeeringThroughGateways(undefined)).toEqual({
      Kind: 'mesh',
      Peering: { PeerThroughMeshGateways: true },
      Meta: { 'managed-by': 'consul-peering-automation' },
    });
  });

  test('keeps every field it does not own, including unknown newer ones, and drops the raft indexes', () => {
    const current = {
      Kind: 'mesh',
      TransparentProxy: { MeshDestinationsOnly: true },
      TLS: { Incoming: { TLSMinVersion: 'TLSv1_2' } },
      Peering: { PeerThroughMeshGateways: false, SomethingNewer: 'x' },
      Meta: { team: 'platform' },
      FutureField: [1, 2, 3],
      CreateIndex: 10,
      ModifyIndex: 12,
    };
    expect(meshEntryWithPeeringThroughGateways(current)).toEqual({
      Kind: 'mesh',
      TransparentProxy: { MeshDestinationsOnly: true },
      TLS: { Incoming: { TLSMinVersion: 'TLSv1_2' } },
      Peering: { PeerThroughMeshGateways: true, SomethingNewer: 'x' },
      Meta: { team: 'platform', 'managed-by': 'consul-peering-automation' },
      FutureField: [1, 2, 3],
    });
    expect(current.Peering.PeerThroughMeshGateways).toBe(false); // the input is not mutated
  });

  test('writes nothing when the flag is on and we own it, or someone else owns it', () => {
    const ours = {
      Kind: 'mesh',
      Peering: { PeerThroughMeshGateways: true },
      Meta: { 'managed-by': 'consul-peering-automation' },
    };
    const theirs = {
      Kind: 'mesh',
      Peering: { PeerThroughMeshGateways: true },
      Meta: { 'external-source': 'kubernetes' },
    };
    expect(meshEntryWithPeeringThroughGateways(ours)).toBeUndefined();
    expect(meshEntryWithPeeringThroughGateways(theirs)).toBeUndefined();
  });

  test('refuses to fight another owner (consul-k8s would revert the write)', () => {
    const theirs = { Kind: 'mesh', Meta: { 'external-source': 'kubernetes' } };
    expect(() => meshEntryWithPeeringThroughGateways(theirs)).toThrow(PermanentError);
    expect(() => meshEntryWithPeeringThroughGateways(theirs)).toThrow(/managed by "kubernetes".*Mesh CRD/);
  });

  test('property: the result always routes through gateways and is a fixed point', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => !['__proto__', 'Meta', 'Peering'].includes(k)),
          fc.jsonValue(),
        ),
        (extra) => {
          const next = meshEntryWithPeeringThroughGateways({ ...extra, Kind: 'mesh' });
          expect(peersThroughMeshGateways(next)).toBe(true);
          expect(meshEntryWithPeeringThroughGateways(next)).toBeUndefined();
        },
      ),
    );
  });
});
