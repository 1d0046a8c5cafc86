import * as z from 'zod/mini';
import { parseJsonOrUndefined } from '../json';
import { SLACK_CHANNEL_ID, SLACK_USER_ID } from './command-parser';

/**
 * A slash command's `response_url`: where results may be posted, and how it is kept meanwhile. It is a
 * bearer capability (up to 5 posts into the channel within 30 minutes), so it is stored as a secret,
 * only ever posted to under the allowed base, and never logged (only its origin is).
 */
export const SLACK_RESPONSE_URL_BASE = 'https://hooks.slack.com/';
const MAX_URL_CHARS = 2048;

/**
 * Whether `candidate` lies under `base` (same scheme, host and port; path below the base's path; no
 * credentials). Compared as parsed URLs, so `https://hooks.slack.com.evil.example/` and
 * `https://hooks.slack.com@evil.example/` are refused.
 */
export function isAllowedResponseUrl(candidate: string, base: string = SLACK_RESPONSE_URL_BASE): boolean {
  if (candidate.length > MAX_URL_CHARS) return false;
  const url = URL.parse(candidate);
  const allowed = URL.parse(base);
  if (url === null || allowed === null) return false;
  if (url.username !== '' || url.password !== '') return false;
  const folder = allowed.pathname.endsWith('/') ? allowed.pathname : `${allowed.pathname}/`;
  return url.origin === allowed.origin && url.pathname.startsWith(folder);
}

/** The origin of a URL, the only part of a response_url that may appear in a log line or an error. */
export const originOf = (candidate: string): string => URL.parse(candidate)?.origin ?? '(not a URL)';

/** What the Slack function stores under `slackResponseSecretName`: where to answer, and who asked. */
export const SlackResponseRecordSchema = z.strictObject({
  responseUrl: z.string().check(z.minLength(1), z.maxLength(MAX_URL_CHARS)),
  userId: z.string().check(z.maxLength(32), z.regex(SLACK_USER_ID)),
  channelId: z.string().check(z.maxLength(32), z.regex(SLACK_CHANNEL_ID)),
});
export type SlackResponseRecord = z.infer<typeof SlackResponseRecordSchema>;

export const serialiseResponseRecord = (record: SlackResponseRecord): string => JSON.stringify(record);

/** The stored record, or undefined when the value is not one (it is then of no use to anyone). */
export function parseResponseRecord(value: string): SlackResponseRecord | undefined {
  const result = z.safeParse(SlackResponseRecordSchema, parseJsonOrUndefined(value));
  return result.success ? result.data : undefined;
}
