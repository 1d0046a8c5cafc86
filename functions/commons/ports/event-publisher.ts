import type { PipelineEvent } from '../events';

/** Publishes pipeline events. Events carry secret names and versions, never secret values. */
export interface EventPublisher {
  publish(event: PipelineEvent, options?: { delaySeconds?: number }): Promise<void>;
}
