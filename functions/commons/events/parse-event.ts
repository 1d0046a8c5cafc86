import * as z from 'zod/mini';
import { ValidationError } from '../errors';
import {
  EVENT_TYPES,
  EVENT_VERSION,
  eventSchemas,
  isEventType,
  type EventOf,
  type EventType,
  type PipelineEvent,
} from './schemas';
import { preview, toValidationError } from './validation-error';

/** Far above any valid event (the largest is a few KiB), far below the queue's limit. */
export const MAX_EVENT_BYTES = 16 * 1024;

/**
 * Parses a queue message body into a pipeline event. Everything wrong with it (size, JSON, type,
 * version, shape) is a ValidationError naming the first offending field: it can never succeed on retry.
 */
export function parseEvent(body: string): PipelineEvent {
  const envelope = readEnvelope(body);
  return validate(envelope.type, envelope.json);
}

/** As `parseEvent`, for a consumer of one event type: any other type is a ValidationError. */
export function parseEventOfType<T extends EventType>(body: string, type: T): EventOf<T> {
  const envelope = readEnvelope(body);
  if (envelope.type !== type) {
    throw new ValidationError(`type: expected a ${type} event, got ${envelope.type}`, 'type');
  }
  return validate(type, envelope.json);
}

/** Validates a candidate envelope against the schema of its type (shared with createEvent). */
export function validate<T extends EventType>(type: T, candidate: unknown): EventOf<T> {
  const result = z.safeParse(eventSchemas[type], candidate, { reportInput: true });
  if (!result.success) throw toValidationError(result.error.issues);
  // The schema is the one for T; TypeScript cannot follow the lookup through a generic key.
  return result.data as EventOf<T>;
}

const known = EVENT_TYPES.join(', ');

/** The checks that pick the schema: done by hand, so their messages can be specific. */
function readEnvelope(body: string): { type: EventType; json: Record<string, unknown> } {
  // Before JSON.parse: an oversized body is rejected without being parsed.
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_EVENT_BYTES) {
    throw new ValidationError(`event body is ${bytes} bytes; the limit is ${MAX_EVENT_BYTES} bytes (16 KiB)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    // Only the position: V8's message quotes the input.
    const position = error instanceof Error ? /at position (\d+)/.exec(error.message)?.[1] : undefined;
    throw new ValidationError(
      `event body is not valid JSON${position === undefined ? '' : ` (at position ${position})`}`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ValidationError(`event body must be a JSON object, got ${preview(json)}`);
  }
  const envelope = json as Record<string, unknown>;
  const { type, version } = envelope;
  if (type === undefined) throw new ValidationError(`type is required (one of: ${known})`, 'type');
  if (!isEventType(type)) {
    throw new ValidationError(`type: unknown event type ${preview(type)}; known types: ${known}`, 'type');
  }
  if (version === undefined)
    throw new ValidationError(`version is required (expected ${EVENT_VERSION})`, 'version');
  if (version !== EVENT_VERSION) {
    throw new ValidationError(
      `version: unsupported version ${preview(version)} of ${type}; this code reads version ${EVENT_VERSION}`,
      'version',
    );
  }
  return { type, json: envelope };
}
