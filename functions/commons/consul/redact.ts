/** What replaces a secret in any text the client builds from Consul's or the network's words. */
export const REDACTED = '<redacted>';

/**
 * Returns a function that removes every occurrence of the given secrets from a text. Consul does not
 * echo tokens today, but a proxy in front of it, a future version or a mock dispatcher might; the
 * client runs every outside text through this before it can reach an error message.
 */
export function redactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  // Very short values would redact ordinary words; real tokens and secrets are UUIDs or longer.
  const values = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 4);
  if (values.length === 0) return (text) => text;
  return (text) => values.reduce((acc, secret) => acc.split(secret).join(REDACTED), text);
}
