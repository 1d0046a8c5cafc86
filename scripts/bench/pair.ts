import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulClient } from '#commons/consul/client';
import type { ClusterRef, EventDataInput } from '#commons/events/index';
import { clusterSecretName } from '#commons/naming';
import { requirePassingGateway } from '#commons/workflows/ensure-mesh-gateway';
import { peersThroughMeshGateways } from '#commons/workflows/mesh-entry-merge';
import { DEFAULT_GATEWAY_SERVICE } from '#commons/workflows/onboard-cluster';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { progress } from './support';

export const SECRET_PREFIX = 'consul-peering';

export interface Side {
  cluster: LocalConsulCluster;
  gateway: SniRoutingGateway;
  ref: ClusterRef;
  /** Management-token client for the benchmark itself (its calls are never counted). */
  admin: ConsulClient;
}

/** A fresh pair of datacenters with stand-in mesh gateways, wired as in `npm run demo`. */
export interface Pair {
  acceptor: Side; // dc1
  dialer: Side; // dc2
  tempDir: string;
  /** When both datacenters were ready (leader elected, CA roots). */
  readyAt: number;
}

/** Starts a pair, runs `use` with it, and tears everything down afterwards, also on error. */
export async function withPair<T>(binary: string, use: (pair: Pair) => Promise<T>): Promise<T> {
  const clusters = await startConsulClusters(2, { binary });
  const readyAt = performance.now();
  const [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
  const closers: (() => Promise<unknown>)[] = [() => Promise.all(clusters.map((c) => c.stop()))];
  try {
    // Each gateway routes its own datacenter's server name locally and the other's to the other gateway.
    const gateways = await startMeshGateways(clusters);
    closers.push(() => Promise.all(gateways.map((g) => g.close())));
    const [gateway1, gateway2] = gateways as [SniRoutingGateway, SniRoutingGateway];
    const tempDir = await mkdtemp(join(tmpdir(), 'peering-bench-'));
    closers.push(() => rm(tempDir, { recursive: true, force: true }));
    const side = (cluster: LocalConsulCluster, gateway: SniRoutingGateway): Side => {
      const admin = new ConsulClient({ address: cluster.address, token: cluster.managementToken });
      closers.push(() => admin.close());
      const ref = {
        name: cluster.datacenter,
        connectionSecret: clusterSecretName(SECRET_PREFIX, cluster.datacenter),
      };
      return { cluster, gateway, ref, admin };
    };
    return await use({ acceptor: side(dc1, gateway1), dialer: side(dc2, gateway2), tempDir, readyAt });
  } catch (error) {
    for (const c of clusters) progress(`--- ${c.datacenter} log (tail) ---\n${c.log.slice(-2000)}`);
    throw error;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

/** The `cluster.registered` data that onboards a side with its relay as LAN and WAN gateway address. */
export function registration(side: Side): EventDataInput<'cluster.registered'> {
  const hostPort = { address: '127.0.0.1', port: side.gateway.port };
  return { cluster: side.ref, gateway: { lan: hostPort, wan: hostPort } };
}

/** Onboarding as Consul sees it: a passing mesh gateway and the mesh entry flag on both sides, no peering yet. */
export async function assertOnboarded(pair: Pair): Promise<void> {
  for (const [side, peer] of [
    [pair.acceptor, pair.dialer],
    [pair.dialer, pair.acceptor],
  ] as const) {
    await requirePassingGateway(side.admin, side.ref.name, DEFAULT_GATEWAY_SERVICE);
    const mesh = await side.admin.readConfigEntryRaw('mesh', 'mesh');
    if (!peersThroughMeshGateways(mesh?.entry))
      throw new Error(`${side.ref.name}: mesh entry flag not set after onboarding`);
    if ((await side.admin.readPeering(peer.ref.name)) !== undefined) {
      throw new Error(`${side.ref.name}: a peering "${peer.ref.name}" exists before the timer started`);
    }
  }
}

/** Reads both sides' peering state once (admin clients). */
export async function bothActive(pair: Pair): Promise<{ active: boolean; states: string }> {
  const [a, d] = await Promise.all([
    pair.acceptor.admin.readPeering(pair.dialer.ref.name),
    pair.dialer.admin.readPeering(pair.acceptor.ref.name),
  ]);
  return {
    active: a?.state === 'ACTIVE' && d?.state === 'ACTIVE',
    states: `${pair.acceptor.ref.name} ${a?.state ?? 'absent'}, ${pair.dialer.ref.name} ${d?.state ?? 'absent'}`,
  };
}

/** Polls both sides every `intervalMs` until both are ACTIVE; resolves with that instant (undefined if aborted). */
export async function observeActive(
  pair: Pair,
  intervalMs: number,
  signal: AbortSignal,
): Promise<number | undefined> {
  while (!signal.aborted) {
    const { active } = await bothActive(pair).catch(() => ({ active: false }));
    if (active) return performance.now();
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
  }
  return undefined;
}
