import type { ClusterConnection } from '#commons/clusters';
import {
  changedFields,
  countChanges,
  planFleet,
  renderPlan,
  type RecordedState,
} from '../../../cli/fleet/fleet-plan';
import type { DesiredFleet } from '../../../cli/fleet/read-fleet-file';

const connection = (name: string, extra: Partial<ClusterConnection> = {}): ClusterConnection => ({
  address: `http://${name}.example:8500`,
  token: `${name}-token-0123456789`,
  ...extra,
});

const desired: DesiredFleet = {
  settings: {},
  clusters: ['dc1', 'dc2', 'dc3'].map((name) => ({
    name,
    connection: connection(name),
    tokenSource: `env T_${name}`,
  })),
  peerings: [
    { acceptor: 'dc1', dialer: 'dc2', exportServices: ['web'] },
    { acceptor: 'dc1', dialer: 'dc3', exportServices: [] },
  ],
};

/** What apply leaves recorded after applying `desired`. */
const converged = (): RecordedState => ({
  clusters: new Map(desired.clusters.map((c) => [c.name, c.connection])),
  peerings: desired.peerings.map((p) => ({ ...p })),
});

describe('planFleet', () => {
  test('nothing recorded: every cluster registered, every peering requested, nothing deleted', () => {
    const plan = planFleet(desired, { clusters: new Map(), peerings: [] }, { prune: true });
    expect(plan.clusters).toEqual([
      { name: 'dc1', action: 'register', why: 'new' },
      { name: 'dc2', action: 'register', why: 'new' },
      { name: 'dc3', action: 'register', why: 'new' },
    ]);
    expect(plan.peerings.map((p) => p.action)).toEqual(['request', 'request']);
    expect(plan.deletions).toEqual({ peerings: [], clusters: [] });
    expect(countChanges(plan)).toBe(5);
    expect(renderPlan(plan).at(-1)).toBe('3 to register, 2 to request, 0 to change, 0 to delete');
  });

  test('the same file again: no changes, with or without --prune', () => {
    for (const prune of [false, true]) {
      const plan = planFleet(desired, converged(), { prune });
      expect(countChanges(plan)).toBe(0);
      expect(plan.clusters.every((c) => c.action === 'unchanged')).toBe(true);
      expect(plan.peerings.every((p) => p.action === 'unchanged')).toBe(true);
      expect(renderPlan(plan).at(-1)).toBe('no changes');
    }
  });

  test('a changed connection is registered again, naming the fields (never their values)', () => {
    const recorded = converged();
    const clusters = new Map(recorded.clusters);
    clusters.set('dc2', connection('dc2', { token: 'an-older-token-0000000' }));
    clusters.set(
      'dc3',
      connection('dc3', {
        gateway: {
          serviceName: 'mesh-gateway',
          lan: { address: '10.0.0.1', port: 1 },
          wan: { address: '10.0.0.1', port: 1 },
        },
      }),
    );
    clusters.set('dc1', undefined);
    const plan = planFleet(desired, { ...recorded, clusters }, { prune: false });
    expect(plan.clusters).toEqual([
      { name: 'dc1', action: 'register', why: 'changed', changed: ['connection secret unreadable'] },
      { name: 'dc2', action: 'register', why: 'changed', changed: ['token'] },
      { name: 'dc3', action: 'register', why: 'changed', changed: ['gateway'] },
    ]);
    const text = renderPlan(plan).join('\n');
    expect(text).toContain('~ dc2  register again (changed: token)');
    expect(text).not.toContain('token-0');
  });

  test('key order does not make a change', () => {
    const a = connection('dc1', {
      gateway: { serviceName: 'g', lan: { address: 'a', port: 1 }, wan: { address: 'b', port: 2 } },
    });
    const b = JSON.parse(
      '{"gateway":{"wan":{"port":2,"address":"b"},"lan":{"port":1,"address":"a"},"serviceName":"g"},"token":"dc1-token-0123456789","address":"http://dc1.example:8500"}',
    ) as ClusterConnection;
    expect(changedFields(a, b)).toEqual([]);
  });

  test('changed exports: the peering is requested again with the file’s exports', () => {
    const recorded = converged();
    const plan = planFleet(
      desired,
      {
        ...recorded,
        peerings: [
          { acceptor: 'dc1', dialer: 'dc2', exportServices: ['api'] },
          { acceptor: 'dc1', dialer: 'dc3', exportServices: undefined },
        ],
      },
      { prune: false },
    );
    expect(plan.peerings).toEqual([
      {
        acceptor: 'dc1',
        dialer: 'dc2',
        exportServices: ['web'],
        action: 'update-exports',
        previousExportServices: ['api'],
      },
      {
        acceptor: 'dc1',
        dialer: 'dc3',
        exportServices: [],
        action: 'update-exports',
        previousExportServices: undefined,
      },
    ]);
    expect(renderPlan(plan)).toContain('  ~ dc1 -> dc2  request again (exports: api -> web)');
  });

  test('what the file no longer names: kept without --prune, deleted with it (peerings, then registrations)', () => {
    const recorded = converged();
    const extra: RecordedState = {
      clusters: new Map([...recorded.clusters, ['dc4', connection('dc4')]]),
      peerings: [...recorded.peerings, { acceptor: 'dc4', dialer: 'dc1', exportServices: [] }],
    };
    const kept = planFleet(desired, extra, { prune: false });
    expect(kept.deletions).toEqual({ peerings: [], clusters: [] });
    expect(kept.kept).toEqual({ peerings: [{ acceptor: 'dc4', dialer: 'dc1' }], clusters: ['dc4'] });
    expect(countChanges(kept)).toBe(0);
    expect(renderPlan(kept)).toEqual(
      expect.arrayContaining(['not in the file, kept (--prune would delete them)', 'no changes']),
    );

    const pruned = planFleet(desired, extra, { prune: true });
    expect(pruned.deletions).toEqual({ peerings: [{ acceptor: 'dc4', dialer: 'dc1' }], clusters: ['dc4'] });
    expect(pruned.kept).toEqual({ peerings: [], clusters: [] });
    expect(countChanges(pruned)).toBe(2);
    expect(renderPlan(pruned)).toEqual(
      expect.arrayContaining([
        '  - dc4 -> dc1  delete (not in the file; --prune)',
        '  - cluster dc4  delete its registration (not in the file; --prune)',
        '0 to register, 0 to request, 0 to change, 2 to delete',
      ]),
    );
  });

  test('a pair recorded the other way round is a conflict without --prune; with it, deleted then requested', () => {
    const recorded: RecordedState = {
      ...converged(),
      peerings: [
        { acceptor: 'dc2', dialer: 'dc1', exportServices: [] },
        { acceptor: 'dc1', dialer: 'dc3', exportServices: [] },
      ],
    };
    const plan = planFleet(desired, recorded, { prune: false });
    expect(plan.conflicts).toEqual([
      { wanted: { acceptor: 'dc1', dialer: 'dc2' }, recorded: { acceptor: 'dc2', dialer: 'dc1' } },
    ]);
    expect(renderPlan(plan).join('\n')).toMatch(
      /conflict: dc1 -> dc2 is recorded the other way round \(dc2 -> dc1\)/,
    );
    const pruned = planFleet(desired, recorded, { prune: true });
    expect(pruned.conflicts).toEqual([]);
    expect(pruned.deletions.peerings).toEqual([{ acceptor: 'dc2', dialer: 'dc1' }]);
    expect(pruned.peerings[0]).toMatchObject({ acceptor: 'dc1', dialer: 'dc2', action: 'request' });
  });
});
