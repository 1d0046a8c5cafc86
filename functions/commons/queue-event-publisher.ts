import { PermanentError } from './errors';
import type { EventType, PipelineEvent } from './events';
import type { EventPublisher } from './ports/event-publisher';
import type { Queue } from './ports/queue';

export type EventRoutes = Record<EventType, Queue>;

/** Publishes each event type to its queue (one per consuming function), with type and correlation id as attributes. */
export class QueueEventPublisher implements EventPublisher {
  constructor(private readonly routes: Partial<EventRoutes>) {}

  async publish(event: PipelineEvent, options: { delaySeconds?: number } = {}): Promise<void> {
    const queue = this.routes[event.type];
    if (queue === undefined)
      throw new PermanentError(`no queue is configured for ${event.type} events`, 'misconfigured');
    await queue.send({
      body: JSON.stringify(event),
      attributes: { eventType: event.type, correlationId: event.correlationId },
      ...(options.delaySeconds === undefined ? {} : { delaySeconds: options.delaySeconds }),
    });
  }
}
