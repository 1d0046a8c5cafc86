/**
 * The one redactor. The logger runs every value it serialises through `redactingReplacer`; the Consul
 * client, peerctl's output, the Slack notifier and dead-letter attributes run text through
 * `redactText`. So a secret that reaches a log call, an error message or a printed line by mistake
 * still never reaches a reader. Ways to recognise one:
 * - by key: any key whose name contains token, secret or password (case-insensitive), and a few more
 *   that hold secrets in Consul's, Slack's and HTTP's words (`authorization`, `response_url`, private
 *   keys), unless the key only names WHERE a secret is kept (`tokenSecret`, `secretName`, …);
 * - by shape, in any text: UUIDs (Consul ACL SecretIDs are UUIDs), `Bearer …`, base64 that decodes
 *   to JSON (peering tokens and JWTs start with `eyJ`, whatever their length) or looks random and is
 *   40 characters or more, PEM private keys, and the value of a secret-named key written inside a
 *   string (JSON, escaped JSON, `k=v`, `k: v`);
 * - and the exact values a caller knows are secret (the token it sent, the values it read).
 *
 * Not redacted: a UUID that is the whole value of an identifier field (`peeringId`, `messageId`,
 * `accessorId`, `function_request_id`, …), or follows one in text (`"id": "<uuid>"`, `peering id
 * <uuid>`): identifiers are what a reader follows a request by, and are no credential; ids with a
 * prefix (`peerctl-<uuid>`, `drift-<uuid>`, `slack-<uuid>`); and a lower-case state word under a
 * secret-sounding name (`gatewayToken: "present"`).
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEY_WORDS =
  'token|secret|password|passwd|authorization|response_?url|private_?key|client_?key|ca_?key|signature';
const SECRET_KEY = new RegExp(SECRET_KEY_WORDS, 'i');

/** Keys that name where a secret is kept, or say something about it, never the secret itself. */
const REFERENCE_KEY =
  /^(tokenSecret|tokenSecretName|tokenVersion|connectionSecret|secretName|secretNames|secretPrefix|secretArn|deletedSecretNames|deletedSecrets|secretsKmsKeyId|SECRETS_KMS_KEY_ID|SECRET_PREFIX|tokenGenerated|tokenCreated|regenerateToken|gatewayTokenState|clientKeyFile|clientCertFile|caCertFile)$/i;

/** Identifier fields whose whole value may be a UUID and is kept (see the file comment). */
const IDENTIFIER_KEY =
  /^(id|eventId|messageId|sourceMessageId|correlationId|correlation_id|peeringId|accessorId|AccessorID|ID|versionId|function_request_id|requestId|xray_trace_id)$/;

/**
 * A state under a secret-sounding name (`gatewayToken: "present"`, `"absent-in-consul"`): lower-case
 * words only, short. No credential we handle looks like that (tokens are UUIDs or base64, the Slack
 * signing secret is hex).
 */
const STATE_WORD = /^[a-z]+(-[a-z]+)*$/;
const isStateWord = (value: string): boolean => value.length <= 24 && STATE_WORD.test(value);

/** Text right before a UUID that says it is an identifier: `"peeringId": "`, `id=`, `peering id `. */
const IDENTIFIER_BEFORE =
  /(\b(id|ID|peeringId|accessorId|AccessorID|messageId|eventId|correlationId|requestId|versionId)\\*["']?\s*[:=]\s*\\*["']?|\b(peering|accessor|message|event|request|version) id\s+)$/;

/** Not after `-` (a prefixed id such as `peerctl-<uuid>`) nor inside a longer run of hex. */
const UUID = /(?<![0-9a-f-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])/gi;
const BEARER = /\b(Bearer|Basic)\s+[^\s"',;]+/gi;
/** base64 (or base64url) of JSON: `{"` encodes to `eyJ`. Peering tokens are base64 of a JSON object. */
const BASE64_JSON = /eyJ[A-Za-z0-9+/_-]{4,}={0,2}/g;
/**
 * Other base64 secrets (a gossip key is 44 characters): a run of 40 or more with upper and lower case
 * letters and digits. A hex digest (no upper case) or a long word is left alone.
 */
const BASE64_RUN = /[A-Za-z0-9+/]{40,}={0,2}/g;
const looksRandom = (run: string): boolean => /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run);
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g;
/**
 * `"<key>": "<value>"`, `\"<key>\":\"<value>\"` (JSON inside a JSON string), `<key>=<value>` and
 * `<key>: <value>` where the key names a secret. Group 1 is the key with its quotes and separator.
 */
const KEYED_VALUE = new RegExp(
  `((\\\\*["']?)([A-Za-z0-9_.-]*(?:${SECRET_KEY_WORDS})[A-Za-z0-9_.-]*)\\2\\s*[:=]\\s*)` +
    `(\\\\*"[^"]*?\\\\*"|'[^']*'|[^\\s,;&"'}\\]]+)`,
  'gi',
);

/** Very short values would redact ordinary words; real tokens and secrets are UUIDs or longer. */
const MIN_KNOWN_SECRET_LENGTH = 4;

/** `text` without secrets: the exact `known` values, then every secret shape. */
export function redactText(text: string, known: readonly (string | undefined)[] = []): string {
  return redactShapes(redactKnown(text, known), { uuids: true });
}

/** A redactor bound to the secret values a caller knows (the Consul client's token, peerctl's reads). */
export function redactor(known: readonly (string | undefined)[]): (text: string) => string {
  const values = known.filter((s): s is string => typeof s === 'string');
  return (text) => redactText(text, values);
}

/**
 * The message of `error` (or the text of anything thrown), redacted and cut to `maxLength`
 * characters: for the dead-letter `error` attribute and anything else that leaves the logs.
 */
export function redactedErrorMessage(error: unknown, maxLength = 1000): string {
  const text = redactText(error instanceof Error ? error.message : String(error));
  return text.length <= maxLength ? text : `${text.slice(0, Math.max(0, maxLength - 1))}…`;
}

/** The JSON.stringify replacer of the logger (Powertools' `jsonReplacerFn`) and of JSON we print. */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key) && value !== undefined && value !== null && value !== '') {
    // A flag or a count under a secret-sounding name (`tokenRotated: true`) says nothing secret.
    if (typeof value === 'boolean' || typeof value === 'number') return value;
    if (typeof value === 'string' && isStateWord(value)) return value;
    return REDACTED;
  }
  if (typeof value === 'string') return redactShapes(value, { uuids: !IDENTIFIER_KEY.test(key) });
  return value;
}

/** Whether a field called `key` holds a secret (by name). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !REFERENCE_KEY.test(key);
}

function redactKnown(text: string, known: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of known) {
    if (typeof secret === 'string' && secret.length >= MIN_KNOWN_SECRET_LENGTH)
      result = result.split(secret).join(REDACTED);
  }
  return result;
}

function redactShapes(text: string, options: { uuids: boolean }): string {
  let result = text
    .replace(PEM_PRIVATE_KEY, REDACTED)
    // Before keyed values: `Authorization: Bearer x` would otherwise lose only the word "Bearer".
    .replace(BEARER, (_match, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(KEYED_VALUE, (match, head: string, _quote, key: string, value: string) => {
      if (REFERENCE_KEY.test(key)) return match;
      // A quoted value keeps its quotes, so JSON in the text stays JSON.
      const quote = /^(\\*["'])/.exec(value)?.[1] ?? '';
      if (isStateWord(value.slice(quote.length, value.length - quote.length))) return match;
      // Prose ("--token: a token is never passed…") is not a secret: after a colon, an unquoted
      // value must look like one (8 or more characters, not just lower-case letters).
      if (quote === '' && head.trimEnd().endsWith(':') && (value.length < 8 || /^[a-z]+$/.test(value)))
        return match;
      return `${head}${quote}${REDACTED}${quote}`;
    })
    .replace(BASE64_JSON, REDACTED)
    .replace(BASE64_RUN, (run) => (looksRandom(run) ? REDACTED : run));
  if (options.uuids) {
    result = result.replace(UUID, (uuid: string, offset: number, whole: string) =>
      IDENTIFIER_BEFORE.test(whole.slice(Math.max(0, offset - 40), offset)) ? uuid : REDACTED,
    );
  }
  return result;
}
