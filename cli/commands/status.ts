import type { Peering } from '#commons/ports/consul-types';
import { listRegisteredClusters, listWantedPeerings } from '#commons/registry';
import { readPeeringRecord } from '#commons/workflows/peering-record';
import { expectPositionals, type ParsedArgs } from '../args';
import { mapBounded } from '../bounded';
import type { Command, CommandContext } from '../command';
import {
  describeGateway,
  describeGatewayToken,
  readOnboardingState,
  roleOf,
  type GatewayHealth,
  type GatewayTokenState,
} from '../cluster-state';
import { messageOf, UsageError } from '../errors';
import { EXIT, type ExitCode } from '../exit-codes';
import * as fields from '../fields';
import { BACKEND_HELP, CONCURRENCY_HELP } from '../help-text';
import { BACKEND, backendChoice, CONCURRENCY, concurrencyChoice, HELP, JSON_OUTPUT } from '../options';
import { openRuntime, type Runtime } from '../runtime';
import { renderTable } from '../table';

const HELP_TEXT = `usage: peerctl status [<cluster>] [--json] [options]

Shows every registered cluster and every peering, read from Consul itself through the connection
secrets (read-only, at most --concurrency clusters at a time). With <cluster>, only that cluster and
the peerings it is part of (both sides are read). An unreachable cluster is shown as such; the
others are still read.

clusters: the mesh gateway's health (passing instances / instances), the mesh config entry's
  Peering.PeerThroughMeshGateways flag, and whether the gateway's ACL token (issued by onboarding,
  kept in <prefix>/gateway-tokens/<cluster>) exists in Consul.
peerings: each pair once, as acceptor -> dialer: the state on each side (absent, unreachable, or
  Consul's: PENDING, ESTABLISHING, ACTIVE, FAILING, DELETING, TERMINATED), the last heartbeat of each
  side's stream, and whether it is wanted (recorded by peerctl peer) with its exports.

  <cluster>            only this cluster
  --json               one JSON document {clusters: [...], peerings: [...]} on stdout
${CONCURRENCY_HELP}

${BACKEND_HELP}

examples
  peerctl status
  peerctl status dc1 --json | jq '.peerings[] | select(.acceptorSide.state != "ACTIVE")'
  peerctl status --aws

exit codes
  0  every cluster read   1  a cluster could not be read (shown, the others too)   2  bad input`;

export interface ClusterReport {
  name: string;
  address: string | null;
  reachable: boolean;
  error?: string;
  gateway?: GatewayHealth;
  meshThroughGateways?: boolean;
  gatewayToken?: GatewayTokenState;
  peeringCount?: number;
}

export interface PeeringSideReport {
  /** Consul's state, or `absent`, `unreachable`, `not registered`, `not read`. */
  state: string;
  id?: string;
  lastHeartbeat?: string;
}

export interface PeeringReport {
  acceptor: string;
  dialer: string;
  /** Recorded as a wanted peering (<prefix>/peerings/<acceptor>/<dialer>). */
  wanted: boolean;
  exportServices?: string[];
  acceptorSide: PeeringSideReport;
  dialerSide: PeeringSideReport;
}

interface ClusterRead {
  report: ClusterReport;
  peerings: Peering[];
}

async function listWanted(runtime: Runtime, concurrency: number): Promise<PeeringReport[]> {
  const pairs = await listWantedPeerings(runtime.secrets, runtime.settings.secretPrefix);
  const records = await mapBounded(pairs, concurrency, ({ acceptor, dialer }) =>
    readPeeringRecord(runtime.secrets, runtime.settings.secretPrefix, acceptor, dialer),
  );
  return pairs.map(({ acceptor, dialer }, i) => {
    const record = records[i];
    const exportServices = record?.status === 'fulfilled' ? record.value?.exportServices : undefined;
    return {
      acceptor,
      dialer,
      wanted: true,
      ...(exportServices === undefined ? {} : { exportServices }),
      acceptorSide: { state: 'absent' },
      dialerSide: { state: 'absent' },
    };
  });
}

async function readCluster(runtime: Runtime, name: string): Promise<ClusterRead> {
  let address: string | null = null;
  try {
    const connection = await runtime.connection(name);
    address = connection.address;
    const consul = await runtime.consul(name);
    const [state, peerings] = await Promise.all([
      readOnboardingState(consul, runtime.secrets, {
        secretPrefix: runtime.settings.secretPrefix,
        cluster: name,
        gatewayService: connection.gateway?.serviceName,
      }),
      consul.listPeerings(),
    ]);
    return {
      report: {
        name,
        address,
        reachable: true,
        gateway: state.gateway,
        meshThroughGateways: state.meshThroughGateways,
        gatewayToken: state.gatewayToken,
        peeringCount: peerings.length,
      },
      peerings,
    };
  } catch (error) {
    return { report: { name, address, reachable: false, error: messageOf(error) }, peerings: [] };
  }
}

const side = (peering: Peering): PeeringSideReport => ({
  state: peering.state === 'UNKNOWN' ? peering.rawState : peering.state,
  id: peering.id,
  ...(peering.stream.lastHeartbeat === undefined ? {} : { lastHeartbeat: peering.stream.lastHeartbeat }),
});

/** Each pair once: the wanted records first, then what Consul has on each cluster read. */
function joinPeerings(
  wanted: PeeringReport[],
  reads: ReadonlyMap<string, ClusterRead>,
  registered: ReadonlySet<string>,
): PeeringReport[] {
  const key = (a: string, b: string): string => [a, b].sort().join('\n');
  const rows = new Map(wanted.map((row) => [key(row.acceptor, row.dialer), row]));
  for (const [cluster, read] of reads) {
    for (const peering of read.peerings) {
      let row = rows.get(key(cluster, peering.name));
      if (row === undefined) {
        const acceptor = roleOf(peering) === 'acceptor' ? cluster : peering.name;
        row = {
          acceptor,
          dialer: acceptor === cluster ? peering.name : cluster,
          wanted: false,
          acceptorSide: { state: 'absent' },
          dialerSide: { state: 'absent' },
        };
        rows.set(key(cluster, peering.name), row);
      }
      if (row.acceptor === cluster) row.acceptorSide = side(peering);
      else row.dialerSide = side(peering);
    }
  }
  for (const row of rows.values()) {
    for (const [cluster, which] of [
      [row.acceptor, 'acceptorSide'],
      [row.dialer, 'dialerSide'],
    ] as const) {
      const read = reads.get(cluster);
      if (!registered.has(cluster)) row[which] = { state: 'not registered' };
      else if (read === undefined) row[which] = { state: 'not read' };
      else if (!read.report.reachable) row[which] = { state: 'unreachable' };
    }
  }
  return [...rows.values()].sort(
    (a, b) => a.acceptor.localeCompare(b.acceptor) || a.dialer.localeCompare(b.dialer),
  );
}

function ago(timestamp: string | undefined, now: number): string {
  if (timestamp === undefined) return '-';
  const at = Date.parse(timestamp);
  if (Number.isNaN(at) || at < Date.UTC(2000, 0, 1)) return '-';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

const clusterRow = (c: ClusterReport): string[] =>
  c.reachable
    ? [
        c.name,
        c.address ?? '-',
        c.gateway === undefined ? '-' : describeGateway(c.gateway),
        c.meshThroughGateways === true ? 'on' : 'off',
        c.gatewayToken === undefined ? '-' : describeGatewayToken(c.gatewayToken),
        String(c.peeringCount ?? 0),
      ]
    : [c.name, c.address ?? '-', 'unreachable', '-', '-', '-'];

const peeringRow = (p: PeeringReport, now: number): string[] => [
  `${p.acceptor} -> ${p.dialer}`,
  p.acceptorSide.state,
  p.dialerSide.state,
  `${ago(p.acceptorSide.lastHeartbeat, now)} / ${ago(p.dialerSide.lastHeartbeat, now)}`,
  p.wanted ? 'yes' : 'no',
  p.exportServices === undefined || p.exportServices.length === 0 ? '-' : p.exportServices.join(','),
];

function printTables(out: CommandContext['out'], clusters: ClusterReport[], peerings: PeeringReport[]): void {
  const indented = (lines: string[]): void => {
    for (const line of lines) out.result(`  ${line}`);
  };
  out.result('clusters');
  if (clusters.length === 0) indented(['none registered (peerctl cluster add <name> --address URL)']);
  else
    indented(
      renderTable(
        ['CLUSTER', 'ADDRESS', 'GATEWAY', 'MESH FLAG', 'GATEWAY TOKEN', 'PEERINGS'],
        clusters.map(clusterRow),
      ),
    );
  indented(clusters.filter((c) => !c.reachable).map((c) => `${c.name}: ${c.error ?? 'unreachable'}`));
  out.result('');
  out.result('peerings');
  const now = Date.now();
  if (peerings.length === 0) indented(['none']);
  else
    indented(
      renderTable(
        ['PEERING', 'ACCEPTOR STATE', 'DIALER STATE', 'LAST HEARTBEAT (A / D)', 'WANTED', 'EXPORTS'],
        peerings.map((p) => peeringRow(p, now)),
      ),
    );
}

async function run(args: ParsedArgs, { out, env }: CommandContext): Promise<ExitCode> {
  const positionals = args.positionals.length === 0 ? [] : expectPositionals(args, ['<cluster>']);
  const only = positionals[0] === undefined ? undefined : fields.clusterName(positionals[0], '<cluster>');
  const concurrency = concurrencyChoice(args);
  const backend = backendChoice(args, env);
  const runtime = openRuntime({ backend, env, out });
  try {
    const registered = await listRegisteredClusters(runtime.secrets, runtime.settings.secretPrefix);
    if (only !== undefined && !registered.includes(only)) {
      throw new UsageError(
        `<cluster>: unknown cluster "${only}" (registered: ${registered.join(', ') || 'none'})`,
        'status',
      );
    }
    const wanted = await listWanted(runtime, concurrency);
    const reads = new Map<string, ClusterRead>();
    const readAll = async (names: string[]): Promise<void> => {
      const results = await mapBounded(names, concurrency, (name) => readCluster(runtime, name));
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') reads.set(names[i] ?? '', result.value);
      });
    };
    if (only === undefined) {
      await readAll(registered);
    } else {
      // The named cluster first; then the other side of each of its peerings, wanted or in Consul.
      await readAll([only]);
      const peers = new Set([
        ...wanted.flatMap((w) => (w.acceptor === only ? [w.dialer] : w.dialer === only ? [w.acceptor] : [])),
        ...(reads.get(only)?.peerings.map((p) => p.name) ?? []),
      ]);
      await readAll([...peers].filter((peer) => registered.includes(peer) && !reads.has(peer)));
    }
    const involved = (p: PeeringReport): boolean =>
      only === undefined || p.acceptor === only || p.dialer === only;
    const peerings = joinPeerings(wanted.filter(involved), reads, new Set(registered)).filter(involved);
    const clusters = [...reads.values()]
      .map((r) => r.report)
      .filter((c) => only === undefined || c.name === only);
    if (args.flag('json')) out.result(JSON.stringify({ clusters, peerings }, null, 2));
    else printTables(out, clusters, peerings);
    return [...reads.values()].every((r) => r.report.reachable) ? EXIT.ok : EXIT.failed;
  } finally {
    await runtime.close();
  }
}

export const status: Command = {
  name: 'status',
  summary: 'clusters and peerings as Consul sees them, read through the connection secrets',
  help: HELP_TEXT,
  options: { ...HELP, ...JSON_OUTPUT, ...CONCURRENCY, ...BACKEND },
  run,
};
