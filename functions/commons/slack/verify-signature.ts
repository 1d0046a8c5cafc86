import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Slack's v0 request signing (https://api.slack.com/authentication/verifying-requests-from-slack):
 * `x-slack-signature` is `v0=` + hex HMAC-SHA256 of `v0:{x-slack-request-timestamp}:{raw body}` under the
 * app's signing secret. It runs on the raw body bytes, before anything parses them.
 */
export const SIGNATURE_HEADER = 'x-slack-signature';
export const TIMESTAMP_HEADER = 'x-slack-request-timestamp';
/** Slack's own recommendation: a request older (or newer) than this is a replay or a wrong clock. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export type SignatureRejectionReason =
  | 'missing-signing-secret'
  | 'missing-timestamp'
  | 'malformed-timestamp'
  | 'stale-timestamp'
  | 'future-timestamp'
  | 'missing-signature'
  | 'malformed-signature'
  | 'signature-mismatch';

export type SignatureVerdict =
  { ok: true; timestamp: number } | { ok: false; reason: SignatureRejectionReason; message: string };

export type HeaderBag = Readonly<Record<string, string | undefined>>;

export interface VerifySignatureInput {
  headers: HeaderBag;
  /** The body exactly as received (after base64 decoding, never after form parsing). */
  rawBody: Uint8Array;
  signingSecret: string;
  now: Date;
  toleranceSeconds?: number;
}

// Unix seconds; 12 digits are far beyond any plausible clock and keep Number() exact.
const TIMESTAMP = /^\d{1,12}$/;
const SIGNATURE = /^v0=[0-9a-f]{64}$/;

/**
 * Never throws, whatever the headers and body: every problem is a typed rejection, so the caller answers
 * 401 without branching on exceptions. The rejection's message is for logs, never for the requester.
 */
export function verifySlackSignature(input: VerifySignatureInput): SignatureVerdict {
  const { headers, rawBody, signingSecret, now } = input;
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  // An empty key would make every signature forgeable by anyone who knows the scheme.
  if (signingSecret === '') return reject('missing-signing-secret', 'no signing secret is configured');

  const rawTimestamp = header(headers, TIMESTAMP_HEADER);
  if (rawTimestamp === undefined || rawTimestamp === '')
    return reject('missing-timestamp', `the ${TIMESTAMP_HEADER} header is missing`);
  if (!TIMESTAMP.test(rawTimestamp))
    return reject('malformed-timestamp', `the ${TIMESTAMP_HEADER} header is not a Unix time in seconds`);
  const timestamp = Number(rawTimestamp);
  const skew = Math.floor(now.getTime() / 1000) - timestamp;
  // Fail closed on an invalid clock: NaN would pass both comparisons below.
  if (!Number.isFinite(skew)) return reject('stale-timestamp', 'the clock gave no valid time');
  if (skew > tolerance)
    return reject('stale-timestamp', `the request is ${skew} s old; at most ${tolerance} s is accepted`);
  if (-skew > tolerance)
    return reject(
      'future-timestamp',
      `the request is dated ${-skew} s ahead; at most ${tolerance} s is accepted`,
    );

  const signature = header(headers, SIGNATURE_HEADER);
  if (signature === undefined || signature === '')
    return reject('missing-signature', `the ${SIGNATURE_HEADER} header is missing`);
  if (!SIGNATURE.test(signature))
    return reject('malformed-signature', `the ${SIGNATURE_HEADER} header is not v0=<64 hex digits>`);

  const expected = Buffer.from(`v0=${sign(signingSecret, rawTimestamp, rawBody)}`, 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // timingSafeEqual throws on different lengths; the pattern above makes them equal, checked anyway.
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return reject('signature-mismatch', 'the signature does not match the body and timestamp');
  return { ok: true, timestamp };
}

/** The hex HMAC of one request, as Slack computes it (also used by tests to sign requests). */
export function sign(signingSecret: string, timestamp: string, rawBody: Uint8Array | string): string {
  return createHmac('sha256', signingSecret)
    .update(`v0:${timestamp}:`, 'utf8')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest('hex');
}

/** Header lookup that does not depend on the case the front door delivers names in. */
function header(headers: HeaderBag, name: string): string | undefined {
  const direct: unknown = headers[name];
  if (typeof direct === 'string') return direct;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  }
  return undefined;
}

const reject = (reason: SignatureRejectionReason, message: string): SignatureVerdict => ({
  ok: false,
  reason,
  message,
});
