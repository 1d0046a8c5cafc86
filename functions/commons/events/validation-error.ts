import type * as z from 'zod/mini';
import { ValidationError } from '../errors';

const PREVIEW_CHARS = 40;

/**
 * A short, safe rendering of a value taken from the input, for error messages: long input is never
 * echoed back (it may be large, or hold something that belongs in no log), and containers are only
 * named, because stringifying an arbitrarily nested value could itself fail.
 */
export function preview(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value !== 'string')
    return typeof value === 'number' || typeof value === 'boolean' ? `${value}` : typeof value;
  const quoted = JSON.stringify(value);
  return quoted.length <= PREVIEW_CHARS ? quoted : `${quoted.slice(0, PREVIEW_CHARS - 1)}…`;
}

/** The first issue as a ValidationError: `field` is its dotted path, the message names it and what was expected. */
export function toValidationError(issues: readonly z.core.$ZodIssue[]): ValidationError {
  const issue = issues[0];
  if (issue === undefined) return new ValidationError('event is invalid');
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const [first = '', ...rest] = issue.keys;
    const field = [...path, first].join('.');
    const more = rest.length === 0 ? '' : ` (and ${rest.length} more)`;
    return new ValidationError(
      `${preview(field)} is not a known field${more}; fields are strict, so check the spelling`,
      field,
    );
  }
  const field = path.join('.');
  const where = field === '' ? 'event' : field;
  // Parsed with reportInput, so a missing field is told apart from one of the wrong type.
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return new ValidationError(`${where} is required (expected ${issue.expected})`, field);
  }
  return new ValidationError(`${where}: ${issue.message.replace(/^Invalid input: /, '')}`, field);
}
