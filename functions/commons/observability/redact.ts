/**
 * Redaction applied by the logger itself to every value it serialises, so a token that reaches a log
 * call by mistake still never reaches a log line.
 * - by key: fields that hold secrets in Consul's API, Slack's and ours;
 * - by shape: a Consul peering token (base64 JSON, long) and bearer-like strings, wherever they appear.
 */
const SECRET_KEYS =
  /^(response_url|responseUrl|token|peeringToken|PeeringToken|secretId|SecretID|secret_id|x-consul-token|authorization|password|signingSecret|SecretString|caKey|value)$/i;
const LONG_BASE64 = /[A-Za-z0-9+/]{120,}={0,2}/g;
export const REDACTED = '[REDACTED]';

export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && SECRET_KEYS.test(key) && value !== undefined && value !== null && value !== '')
    return REDACTED;
  if (typeof value === 'string') return value.replace(LONG_BASE64, REDACTED);
  return value;
}
