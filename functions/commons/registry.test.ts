import {
  clusterSecretName,
  gatewayTokenSecretName,
  peeringRecordSecretName,
  peeringTokenSecretName,
} from './naming';
import type { SecretStore, SecretSummary } from './ports/secret-store';
import { classifySecretName, listRegisteredClusters, listWantedPeerings, readDesiredState } from './registry';

const P = 'consul-peering';

test('the registry reads back exactly the names the naming scheme writes', () => {
  expect(classifySecretName(P, clusterSecretName(P, 'dc1'))).toEqual({ kind: 'cluster', cluster: 'dc1' });
  expect(classifySecretName(P, peeringRecordSecretName(P, 'dc1', 'dc2'))).toEqual({
    kind: 'peering',
    pair: { acceptor: 'dc1', dialer: 'dc2' },
  });
  expect(classifySecretName(P, peeringTokenSecretName(P, 'dc1', 'dc2'))).toEqual({
    kind: 'peering-token',
    pair: { acceptor: 'dc1', dialer: 'dc2' },
  });
  for (const other of [
    gatewayTokenSecretName(P, 'dc1'),
    `${P}/clusters/Not_A_Label`,
    `${P}/peerings/dc1`,
    `${P}/peerings/dc1/dc2/extra`,
    `other/clusters/dc1`,
  ]) {
    expect(classifySecretName(P, other)).toBeUndefined();
  }
});

test('targeted listings ask for one folder each; the desired state lists the prefix once', async () => {
  const names = [
    clusterSecretName(P, 'dc2'),
    clusterSecretName(P, 'dc1'),
    peeringRecordSecretName(P, 'dc2', 'dc3'),
    peeringRecordSecretName(P, 'dc1', 'dc2'),
    peeringTokenSecretName(P, 'dc1', 'dc2'),
    gatewayTokenSecretName(P, 'dc1'),
  ];
  const asked: (string | undefined)[] = [];
  const secrets = {
    list: ({ namePrefix }: { namePrefix?: string }) => {
      asked.push(namePrefix);
      return Promise.resolve<SecretSummary[]>(
        names.filter((n) => n.startsWith(namePrefix ?? '')).map((name) => ({ name, tags: {} })),
      );
    },
  } as unknown as SecretStore;
  expect(await listRegisteredClusters(secrets, P)).toEqual(['dc1', 'dc2']);
  expect(await listWantedPeerings(secrets, P)).toEqual([
    { acceptor: 'dc1', dialer: 'dc2' },
    { acceptor: 'dc2', dialer: 'dc3' },
  ]);
  expect(await readDesiredState(secrets, P)).toEqual({
    clusters: ['dc1', 'dc2'],
    peerings: [
      { acceptor: 'dc1', dialer: 'dc2' },
      { acceptor: 'dc2', dialer: 'dc3' },
    ],
    peeringTokens: [{ acceptor: 'dc1', dialer: 'dc2' }],
    listed: names.map((name) => ({ name, tags: {} })),
  });
  expect(asked).toEqual([`${P}/clusters/`, `${P}/peerings/`, `${P}/`]);
});
