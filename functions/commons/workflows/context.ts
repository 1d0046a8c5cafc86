import type { ClusterDirectory } from '../clusters';
import type { Clock } from '../ports/clock';
import type { EventPublisher } from '../ports/event-publisher';
import type { SecretStore } from '../ports/secret-store';

/** The ports every workflow runs over, wired once per cold start by the handler (or the local runtime). */
export interface WorkflowContext {
  clusters: ClusterDirectory;
  secrets: SecretStore;
  events: EventPublisher;
  clock: Clock;
  log: WorkflowLog;
  settings: PipelineSettings;
}

/** Structured logging (Powertools' Logger through `workflowLog`). Attributes must never hold secret values. */
export interface WorkflowLog {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

export interface PipelineSettings {
  secretPrefix: string;
  /** Interval of the TCP check we attach to gateways we register (`consul connect envoy` uses 10s). */
  gatewayCheckInterval: string;
  /** After establishing, how long the dial function itself polls for ACTIVE before handing over to the queue. */
  activationPollMs: number;
  pollIntervalMs: number;
  /** Delay of the re-check message when the peering is not ACTIVE yet or a precondition is not met yet. */
  recheckDelaySeconds: number;
  /** Re-checks before the dial gives up with `peering.failed`. */
  maxAttempts: number;
  /** Token regenerations (a token rejected by the acceptor) before the dial gives up. */
  maxRegenerations: number;
  /**
   * The KMS key the service's secrets must be encrypted with (SECRETS_KMS_KEY_ID). When set, drift
   * reports every secret under the prefix that is not: unset (the local file store) checks nothing.
   */
  secretsKmsKeyId?: string;
}

export const DEFAULT_SETTINGS: Omit<PipelineSettings, 'secretPrefix'> = {
  gatewayCheckInterval: '10s',
  activationPollMs: 15_000,
  pollIntervalMs: 250,
  recheckDelaySeconds: 10,
  maxAttempts: 30,
  maxRegenerations: 2,
};
