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
  hooks?: WorkflowHooks;
  /** Where gateway token secrets are handed to Secrets Manager's rotation (the stack's rotation function). */
  gatewayTokenRotation?: SecretRotationSchedule;
}

/** Turns scheduled rotation on for a secret; false, writing nothing, when it is already on. */
export interface SecretRotationSchedule {
  enable(secretName: string): Promise<boolean>;
}

/** What a watcher is told as typed values (not log text): peerctl's progress lines. */
export interface WorkflowHooks {
  /** A precondition is not met yet; the step checks again in `delaySeconds`. */
  onWaiting?(notice: { reason: string; detail: string; delaySeconds: number }): void;
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
  /** Re-checks (delayed copies of the dial event) before the dial gives up with `peering.failed`. */
  maxAttempts: number;
  /**
   * How a retryable failure comes back: exponential backoff from `retryBaseSeconds`, doubling up to
   * `retryCapSeconds`, with jitter (see retry-backoff.ts); after `retryBudgetSeconds` since the message
   * was first sent, the record goes to the dead-letter queue with its reason.
   */
  retryBaseSeconds: number;
  retryCapSeconds: number;
  retryBudgetSeconds: number;
  /**
   * How long a step waits in-process for a precondition that is not met yet (a gateway starting, the
   * mesh flag being written by onboarding) before handing the record back to the queue.
   */
  readinessWaitMs: number;
  /** The per-pair lock (pair-lock.ts): its lease, renewed while held, and how long to wait for it. */
  lockTtlMs: number;
  lockWaitMs: number;
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
  // Short: the dial holds its Lambda instance while it polls, and the stack caps the dial step at 5
  // instances. A long poll queues other pairs' establishes behind a wait on Consul's stream loop (ACTIVE
  // comes 0.05-5 s after establish); after 2 s the record comes back by backoff (1, 2, 4 ... s) instead.
  activationPollMs: 2_000,
  pollIntervalMs: 250,
  maxAttempts: 30,
  retryBaseSeconds: 1,
  retryCapSeconds: 30,
  // Covers a gateway that takes minutes to start (scheduling, image pull, Envoy boot, first check).
  retryBudgetSeconds: 300,
  readinessWaitMs: 15_000,
  lockTtlMs: 15_000,
  lockWaitMs: 10_000,
  maxRegenerations: 2,
};
