import { ConsulError } from '#commons/ports/consul-error';
import { NotReadyError, PermanentError } from '../errors';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE } from '../naming';
import { ensureMeshConfig } from './ensure-mesh-config';
import { memoryConsul } from './memory-consul.test-support';

// The read-merge-CAS loop over an in-memory Consul (the merge itself: mesh-entry-merge.test.ts).
const written = (calls: string[]) =>
  calls
    .filter((c) => c.startsWith('writeConfigEntryCas '))
    .map((c) => JSON.parse(c.slice('writeConfigEntryCas '.length)) as Record<string, unknown>);

test('no entry yet: it is created only if still absent (cas 0)', async () => {
  const consul = memoryConsul();
  const casSeen: number[] = [];
  const write = consul.writeConfigEntryCas.bind(consul);
  consul.writeConfigEntryCas = (entry, cas) => {
    casSeen.push(cas);
    return write(entry, cas);
  };

  await expect(ensureMeshConfig(consul)).resolves.toEqual({ changed: true });

  expect(casSeen).toEqual([0]);
  expect(written(consul.calls)).toEqual([
    {
      Kind: 'mesh',
      Peering: { PeerThroughMeshGateways: true },
      Meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
    },
  ]);
});

test("the operator's entry is merged and written back at the ModifyIndex it was read at", async () => {
  const consul = memoryConsul();
  consul.putMeshEntry({ TransparentProxy: { MeshDestinationsOnly: true }, Meta: { team: 'platform' } });
  const readAt = consul.configEntries.get('mesh/mesh')?.modifyIndex;
  const casSeen: number[] = [];
  const write = consul.writeConfigEntryCas.bind(consul);
  consul.writeConfigEntryCas = (entry, cas) => {
    casSeen.push(cas);
    return write(entry, cas);
  };

  await expect(ensureMeshConfig(consul)).resolves.toEqual({ changed: true });

  expect(casSeen).toEqual([readAt]);
  expect(consul.configEntries.get('mesh/mesh')?.entry).toMatchObject({
    Kind: 'mesh',
    TransparentProxy: { MeshDestinationsOnly: true },
    Peering: { PeerThroughMeshGateways: true },
    Meta: { team: 'platform', [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
  });
});

test('an entry that already routes peering through gateways is not written', async () => {
  const consul = memoryConsul();
  consul.putMeshEntry({
    Peering: { PeerThroughMeshGateways: true },
    Meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
  });
  await expect(ensureMeshConfig(consul)).resolves.toEqual({ changed: false });
  expect(consul.writes()).toEqual([]);
});

test('someone writing in between: read again, merge again (their change is kept), write at the new index', async () => {
  const consul = memoryConsul();
  consul.putMeshEntry({ Meta: { team: 'platform' } });
  let raced = false;
  consul.before = (method) => {
    if (method === 'writeConfigEntryCas' && !raced) {
      raced = true;
      consul.putMeshEntry({ Meta: { team: 'platform' }, HTTP: { SanitizeXForwardedClientCert: true } });
    }
  };

  await expect(ensureMeshConfig(consul)).resolves.toEqual({ changed: true });

  expect(consul.calls.filter((c) => c.startsWith('readConfigEntryRaw'))).toHaveLength(2);
  expect(consul.configEntries.get('mesh/mesh')?.entry).toMatchObject({
    HTTP: { SanitizeXForwardedClientCert: true },
    Peering: { PeerThroughMeshGateways: true },
  });
});

test('another writer that sets the flag in between: the re-read finds nothing to do', async () => {
  const consul = memoryConsul();
  let raced = false;
  consul.before = (method) => {
    if (method === 'writeConfigEntryCas' && !raced) {
      raced = true;
      consul.putMeshEntry({
        Peering: { PeerThroughMeshGateways: true },
        Meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
      });
    }
  };
  await expect(ensureMeshConfig(consul)).resolves.toEqual({ changed: false });
});

test('an entry that keeps changing: five attempts, then a retryable error', async () => {
  const consul = memoryConsul();
  consul.before = (method) => {
    if (method === 'writeConfigEntryCas')
      consul.putMeshEntry({ Meta: { churn: String(consul.calls.length) } });
  };

  const failure = ensureMeshConfig(consul);

  await expect(failure).rejects.toBeInstanceOf(NotReadyError);
  await expect(failure).rejects.toThrow('the mesh config entry kept changing under us (5 CAS conflicts)');
  expect(consul.calls.filter((c) => c.startsWith('writeConfigEntryCas'))).toHaveLength(5);
  expect(consul.calls.filter((c) => c.startsWith('readConfigEntryRaw'))).toHaveLength(5);
});

test('any other write failure is passed on at once, without another attempt', async () => {
  const consul = memoryConsul();
  const denied = new ConsulError('permission-denied', { method: 'PUT', path: '/v1/config' }, 403, 'denied', {
    denial: 'missing-permission',
  });
  consul.before = (method) => {
    if (method === 'writeConfigEntryCas') throw denied;
  };
  await expect(ensureMeshConfig(consul)).rejects.toBe(denied);
  expect(consul.calls.filter((c) => c.startsWith('writeConfigEntryCas'))).toHaveLength(1);
});

test('an entry owned elsewhere (consul-k8s) is refused, not overwritten', async () => {
  const consul = memoryConsul();
  consul.putMeshEntry({ Meta: { 'external-source': 'kubernetes' } });
  await expect(ensureMeshConfig(consul)).rejects.toBeInstanceOf(PermanentError);
  expect(consul.writes()).toEqual([]);
});
