import { ValidationError } from '../errors';
import type { ClusterRef, PipelineEvent } from '../events';
import { clusterSecretName, MANAGED_BY_KEY, MANAGED_BY_VALUE } from '../naming';
import { DEFAULT_SETTINGS, type PipelineSettings, type WorkflowContext } from './context';
import { MemorySecretStore } from './drift/drift-fakes.test-support';
import { gatewayInstance, memoryConsul, type MemoryConsul } from './memory-consul.test-support';

export const PREFIX = 'consul-peering';
export const NOW = new Date('2026-01-01T12:00:00Z');

export const ref = (name: string): ClusterRef => ({
  name,
  connectionSecret: clusterSecretName(PREFIX, name),
});

/**
 * Clusters (in-memory Consul agents), a secret store, a clock and the published events: the ports a
 * workflow runs over, wired into a WorkflowContext the way the composition root wires the real ones.
 */
export class MemoryWorld {
  readonly secrets = new MemorySecretStore();
  readonly consuls = new Map<string, MemoryConsul>();
  readonly gatewayServices = new Map<string, string>();
  readonly published: { event: PipelineEvent; delaySeconds: number | undefined }[] = [];
  readonly waits: { reason: string; detail: string; delaySeconds: number }[] = [];
  now = NOW;
  /** How far the clock moves on each read (so a readiness wait ends even when nothing changes). */
  tickMs = 0;
  settings: PipelineSettings = {
    ...DEFAULT_SETTINGS,
    secretPrefix: PREFIX,
    readinessWaitMs: 0,
    pollIntervalMs: 1,
    lockWaitMs: 50,
  };

  /**
   * A registered cluster. Onboarded (the default): its mesh entry routes peering through gateways
   * and its mesh gateway passes its checks; otherwise a bare agent.
   */
  add(name: string, { onboarded = true, gatewayService = 'mesh-gateway' } = {}): MemoryConsul {
    const consul = memoryConsul();
    this.consuls.set(name, consul);
    this.gatewayServices.set(name, gatewayService);
    if (onboarded) {
      consul.putMeshEntry({
        Peering: { PeerThroughMeshGateways: true },
        Meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
      });
      consul.services.set(gatewayService, gatewayInstance(gatewayService));
    }
    return consul;
  }

  consul(name: string): MemoryConsul {
    const found = this.consuls.get(name);
    if (found === undefined) throw new Error(`no cluster ${name} in this world`);
    return found;
  }

  events(): PipelineEvent[] {
    return this.published.map((p) => p.event);
  }

  context(): WorkflowContext {
    return {
      clusters: {
        connect: (cluster) => {
          const api = this.consuls.get(cluster.name);
          if (api === undefined) {
            return Promise.reject(new ValidationError(`unknown cluster "${cluster.name}"`, 'cluster'));
          }
          return Promise.resolve({
            api,
            connection: { address: `https://${cluster.name}.example:8501`, token: 't' },
            gatewayService: this.gatewayServices.get(cluster.name) ?? 'mesh-gateway',
          });
        },
      },
      secrets: this.secrets,
      events: {
        publish: (event, options) => {
          this.published.push({ event, delaySeconds: options?.delaySeconds });
          return Promise.resolve();
        },
      },
      clock: {
        now: () => {
          const now = this.now;
          this.now = new Date(now.getTime() + this.tickMs);
          return now;
        },
      },
      log: { info: () => undefined, warn: () => undefined },
      settings: this.settings,
      hooks: { onWaiting: (notice) => void this.waits.push(notice) },
    };
  }
}
