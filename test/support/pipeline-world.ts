import { createLogger } from '#commons/observability/logger';
import type { PipelineEvent } from '#commons/events/index';
import { DEFAULT_SETTINGS } from '#commons/workflows/context';
import { LocalPipeline } from '../../local/pipeline';
import { recordingCalls, type ConsulCall } from './consul-call-recorder';
import { TcpGatewayRelay } from './gateway-relay';
import { startConsulClusters, type ApiProtection, type LocalConsulCluster } from './local-consul-cluster';
import { startMoto, type MotoServer } from './moto';

/** Everything an end-to-end test of the pipeline runs on, all of it real except Envoy. */
export interface PipelineWorld {
  moto: MotoServer;
  /** dc1, dc2, … */
  clusters: LocalConsulCluster[];
  /** dc1's gateway relays to its own server's gRPC TLS port; dc2's to dc1's gateway (its WAN address). */
  gateway1: TcpGatewayRelay;
  gateway2: TcpGatewayRelay;
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
  const [dc1] = clusters as [LocalConsulCluster];
  const gateway1 = await TcpGatewayRelay.listen({ host: '127.0.0.1', port: dc1.ports.grpcTls });
  const gateway2 = await TcpGatewayRelay.listen({ host: '127.0.0.1', port: gateway1.port });
  const published: PipelineEvent[] = [];
  const consulCalls: ConsulCall[] = [];
  process.env.LOG_LEVEL = 'INFO';
  const pipeline = await LocalPipeline.aws({
    client: moto.clientConfig,
    queueNamePrefix: options.queueNamePrefix,
    visibilityTimeoutSeconds: 2,
    settings: {
      ...DEFAULT_SETTINGS,
      secretPrefix: options.secretPrefix,
      gatewayCheckInterval: '1s',
      recheckDelaySeconds: 1,
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
    gateway1,
    gateway2,
    pipeline,
    published,
    consulCalls,
    logLines,
    async stop() {
      await pipeline.stop();
      await Promise.all([gateway1.close(), gateway2.close()]);
      await Promise.all(clusters.map((c) => c.stop()));
      await moto.stop();
      for (const spy of outputSpies) spy.mockRestore();
    },
  };
}
