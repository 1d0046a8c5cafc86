import { SecretBackedClusterDirectory, type ClusterConnection } from '../clusters';
import type { EventType } from '../events';
import { systemClock, type Clock } from '../ports/clock';
import type { ConsulApi } from '../ports/consul-api';
import type { EventPublisher } from '../ports/event-publisher';
import type { Queue } from '../ports/queue';
import type { SecretStore } from '../ports/secret-store';
import { QueueEventPublisher } from '../queue-event-publisher';
import type {
  PipelineSettings,
  SecretRotationSchedule,
  WorkflowContext,
  WorkflowHooks,
  WorkflowLog,
} from '../workflows/context';

/** The queue of each consuming step. The outcome queue takes both outcomes. */
export interface StepQueues {
  onboard: Queue;
  accept: Queue;
  dial: Queue;
  outcomes: Queue;
}

/** The one route table: which step consumes which event. */
export function eventRoutes(queues: StepQueues): Record<EventType, Queue> {
  return {
    'cluster.registered': queues.onboard,
    'peering.requested': queues.accept,
    'peering.acceptor-ready': queues.dial,
    'peering.established': queues.outcomes,
    'peering.failed': queues.outcomes,
  };
}

export interface WorkflowContextParts {
  secrets: SecretStore;
  /** A Consul client for a cluster's connection (the place to wrap it, to count or fault its calls). */
  consul: (connection: ClusterConnection) => ConsulApi;
  /** Where events go: the queues by the route table, or a publisher that already routes them. */
  events: StepQueues | EventPublisher;
  log: WorkflowLog;
  settings: PipelineSettings;
  clock?: Clock;
  hooks?: WorkflowHooks;
  gatewayTokenRotation?: SecretRotationSchedule;
}

/**
 * The composition root of the workflows: the Lambda wiring, the local pipeline and peerctl all build
 * their context here, so the three cannot drift apart in how clusters are found or events routed.
 */
export function buildWorkflowContext(parts: WorkflowContextParts): WorkflowContext {
  const { secrets, consul, events, log, settings } = parts;
  return {
    secrets,
    clusters: new SecretBackedClusterDirectory(secrets, consul, settings.secretPrefix),
    events: 'publish' in events ? events : new QueueEventPublisher(eventRoutes(events)),
    clock: parts.clock ?? systemClock,
    log,
    settings,
    ...(parts.hooks === undefined ? {} : { hooks: parts.hooks }),
    ...(parts.gatewayTokenRotation === undefined ? {} : { gatewayTokenRotation: parts.gatewayTokenRotation }),
  };
}
