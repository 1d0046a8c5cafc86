import { createLogger } from '#commons/observability/logger';
import type { PipelineEvent } from '#commons/events/index';
import { DEFAULT_SETTINGS, type PipelineSettings } from '#commons/workflows/context';
import { LocalPipeline } from '../../local/pipeline';
import { recordingCalls, type ConsulCall } from '#devkit/consul-call-recorder';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';
import {
  startConsulClusters,
  type ApiProtection,
  type LocalConsulCluster,
} from '#devkit/local-consul-cluster';
import { startMoto, type MotoServer } from '#devkit/moto';

/** Everything an end-to-end test of the pipeline runs on, all of it real except Envoy. */
export interface PipelineWorld {
  moto: MotoServer;
  /** dc1, dc2, … */
  clusters: LocalConsulCluster[];
  /**
   * One SNI-routing gateway stand-in per cluster, in the same order: each routes its own datacenter's
   * server name to its server's gRPC TLS port and every other's to that datacenter's gateway. A test
   * registers the ones it wants (a cluster whose gateway is never registered has none, for Consul).
   */
  gateways: SniRoutingGateway[];
  /** The handlers on moto's SQS and Secrets Manager; the test starts it once its setup is written. */
  pipeline: LocalPipeline;
  /** Every event the pipeline published, in order. */
  published: PipelineEvent[];
  /** Every Consul call the workflows made, by cluster and method. */
  consulCalls: ConsulCall[];
  /** Everything written to stdout and stderr (the handlers' logs), captured instead of printed. */
  logLines: string[];
  stop(): Promise<void>;
}

export async function startPipelineWorld(options: {
  clusters: number;
  secretPrefix: string;
  queueNamePrefix: string;
  maxAttempts: number;
  /** Over the world's settings (1 s gateway checks and rechecks, DEFAULT_SETTINGS otherwise). */
  settings?: Partial<Omit<PipelineSettings, 'secretPrefix' | 'maxAttempts'>>;
  /** Concurrent consumers per queue, as side-by-side Lambda instances (default 1). */
  consumers?: number;
  /** How the clusters serve their API (default plain HTTP); see LocalConsulCluster.connectionTls. */
  api?: ApiProtection;
}): Promise<PipelineWorld> {
  const logLines: string[] = [];
  // Both streams: Powertools writes INFO to stdout and WARN/ERROR to stderr.
  const outputSpies = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logLines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }),
  );
  const [moto, clusters] = await Promise.all([
    startMoto(),
    startConsulClusters(options.clusters, { api: options.api ?? 'http' }),
  ]);
  const gateways = await startMeshGateways(clusters);
  const published: PipelineEvent[] = [];
  const consulCalls: ConsulCall[] = [];
  process.env.LOG_LEVEL = 'INFO';
  const pipeline = await LocalPipeline.aws({
    client: moto.clientConfig,
    queueNamePrefix: options.queueNamePrefix,
    visibilityTimeoutSeconds: 2,
    ...(options.consumers === undefined ? {} : { consumers: options.consumers }),
    settings: {
      ...DEFAULT_SETTINGS,
      secretPrefix: options.secretPrefix,
      gatewayCheckInterval: '1s',
      retryCapSeconds: 2,
      ...options.settings,
      maxAttempts: options.maxAttempts,
    },
    logger: createLogger(options.queueNamePrefix),
    onEvent: (event) => published.push(event),
    wrapConsul: (address, api) =>
      recordingCalls(clusters.find((c) => c.address === address)?.datacenter ?? address, api, consulCalls),
  });
  return {
    moto,
    clusters,
    gateways,
    pipeline,
    published,
    consulCalls,
    logLines,
    async stop() {
      await pipeline.stop();
      await Promise.all(gateways.map((g) => g.close()));
      await Promise.all(clusters.map((c) => c.stop()));
      await moto.stop();
      for (const spy of outputSpies) spy.mockRestore();
    },
  };
}
