export { createEvent, type CreateEventOptions } from './create-event';
export { MAX_EVENT_BYTES, parseEvent, parseEventOfType } from './parse-event';
export * from './schemas';
