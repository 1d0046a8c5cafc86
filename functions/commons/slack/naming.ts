/**
 * Where the Slack function keeps a command's `response_url` until the outcome is posted. A response_url
 * is a bearer capability (anyone holding it can post into the channel for 30 minutes), so it lives in
 * the secret store, keyed by the request's correlation id, and never travels on a queue.
 */
export const slackResponseSecretName = (prefix: string, correlationId: string): string =>
  `${prefix}/slack-responses/${correlationId}`;

/** Tag value (under `TAG_KIND`) of the stored response_url secrets, so a sweep can find leftovers. */
export const SLACK_RESPONSE_KIND = 'slack-response';
