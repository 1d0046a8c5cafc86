/**
 * Narrowing of Consul's JSON, which arrives as `unknown`. Lenient where Consul is (missing optional
 * fields, `null` for empty lists and maps) and strict only on what a caller relies on; a violation
 * throws ShapeError, which the transport turns into ConsulUnexpectedResponseError.
 */

export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectObject(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw new ShapeError(`${what} is not a JSON object`);
  return value;
}

export function expectArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(`${what} is not a JSON array`);
  return value;
}

export function requiredString(object: JsonObject, key: string, what: string): string {
  const value = object[key];
  if (typeof value !== 'string') throw new ShapeError(`${what}.${key} is missing or not a string`);
  return value;
}

export function optionalString(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' ? value : undefined;
}

/** A string field where absence and `null` mean empty, as Go's zero value does. */
export function stringOr(object: JsonObject, key: string, fallback = ''): string {
  return optionalString(object, key) ?? fallback;
}

export function optionalNumber(object: JsonObject, key: string): number | undefined {
  const value = object[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function numberOr(object: JsonObject, key: string, fallback = 0): number {
  return optionalNumber(object, key) ?? fallback;
}

export function booleanOr(object: JsonObject, key: string, fallback = false): boolean {
  const value = object[key];
  return typeof value === 'boolean' ? value : fallback;
}

/** String elements of a list field; `null`/absent is empty, non-strings are dropped. */
export function stringList(object: JsonObject, key: string): string[] {
  const value = object[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A list field only when present as a list, so "not reported" stays distinguishable from "empty". */
export function optionalStringList(object: JsonObject, key: string): string[] | undefined {
  const value = object[key];
  if (value === null) return [];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

/** A `map[string]string` field; `null`/absent is empty, non-string values are dropped. */
export function stringMap(object: JsonObject, key: string): Record<string, string> {
  const value = object[key];
  if (!isObject(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

export function objectOr(object: JsonObject, key: string): JsonObject {
  const value = object[key];
  return isObject(value) ? value : {};
}
