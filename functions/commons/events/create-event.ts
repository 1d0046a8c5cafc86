import { ValidationError } from '../errors';
import { MAX_EVENT_BYTES, validate } from './parse-event';
import { EVENT_VERSION, type EventDataInput, type EventOf, type EventType } from './schemas';

export interface CreateEventOptions {
  /** Carried over from the event (or request) that caused this one. */
  correlationId: string;
  /** Defaults to a random UUID. */
  id?: string;
  /** Defaults to now. */
  time?: Date | string;
}

/**
 * Builds an event and validates it with the schema its consumer will use, so a bad event fails where it
 * is made (with the field at fault) instead of in the next function's dead-letter queue.
 */
export function createEvent<T extends EventType>(
  type: T,
  data: EventDataInput<T>,
  options: CreateEventOptions,
): EventOf<T> {
  const time = options.time ?? new Date();
  const event = validate(type, {
    type,
    version: EVENT_VERSION,
    id: options.id ?? crypto.randomUUID(),
    time: typeof time === 'string' || Number.isNaN(time.getTime()) ? String(time) : time.toISOString(),
    correlationId: options.correlationId,
    data,
  });
  const bytes = Buffer.byteLength(JSON.stringify(event), 'utf8');
  if (bytes > MAX_EVENT_BYTES) {
    throw new ValidationError(
      `${type} event is ${bytes} bytes; the limit is ${MAX_EVENT_BYTES} bytes (16 KiB)`,
      'data',
    );
  }
  return event;
}
