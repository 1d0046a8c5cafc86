import fc from 'fast-check';
import {
  sign,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySlackSignature,
  type SignatureRejectionReason,
  type VerifySignatureInput,
} from './verify-signature';

// Slack's documented example (https://api.slack.com/authentication/verifying-requests-from-slack).
const SLACK_EXAMPLE = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body:
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V' +
    '&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=' +
    '&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN' +
    '&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};

const SECRET = 'test-signing-secret';
const NOW = new Date('2025-06-01T12:00:00Z');
const nowSeconds = NOW.getTime() / 1000;

function signed(body: string, timestamp = String(nowSeconds), secret = SECRET): VerifySignatureInput {
  return {
    headers: { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v0=${sign(secret, timestamp, body)}` },
    rawBody: Buffer.from(body, 'utf8'),
    signingSecret: SECRET,
    now: NOW,
  };
}

const reason = (input: VerifySignatureInput): SignatureRejectionReason | 'ok' => {
  const verdict = verifySlackSignature(input);
  return verdict.ok ? 'ok' : verdict.reason;
};

test("Slack's documented example verifies", () => {
  const verdict = verifySlackSignature({
    headers: { [TIMESTAMP_HEADER]: SLACK_EXAMPLE.timestamp, [SIGNATURE_HEADER]: SLACK_EXAMPLE.signature },
    rawBody: Buffer.from(SLACK_EXAMPLE.body),
    signingSecret: SLACK_EXAMPLE.secret,
    now: new Date(Number(SLACK_EXAMPLE.timestamp) * 1000 + 60_000),
  });
  expect(verdict).toEqual({ ok: true, timestamp: Number(SLACK_EXAMPLE.timestamp) });
});

test('a request signed with the secret verifies; header names in any case', () => {
  expect(reason(signed('command=%2Fpeering&text=status'))).toBe('ok');
  const input = signed('a=b');
  const upper = {
    'X-Slack-Request-Timestamp': input.headers[TIMESTAMP_HEADER],
    'X-Slack-Signature': input.headers[SIGNATURE_HEADER],
  };
  expect(reason({ ...input, headers: upper })).toBe('ok');
});

test('the signature covers the raw bytes: any change to body, timestamp or secret is a mismatch', () => {
  const input = signed('text=peer+dc1+dc2');
  expect(reason({ ...input, rawBody: Buffer.from('text=peer+dc1+dc3') })).toBe('signature-mismatch');
  // Same form once decoded, different bytes: still refused.
  expect(reason({ ...input, rawBody: Buffer.from('text=peer%20dc1%20dc2') })).toBe('signature-mismatch');
  expect(reason({ ...input, signingSecret: 'another-secret' })).toBe('signature-mismatch');
  const older = String(nowSeconds - 10);
  expect(reason({ ...input, headers: { ...input.headers, [TIMESTAMP_HEADER]: older } })).toBe(
    'signature-mismatch',
  );
});

test('replays and clock games: older or newer than 5 minutes is refused, even when correctly signed', () => {
  expect(reason(signed('a=b', String(nowSeconds - 300)))).toBe('ok');
  expect(reason(signed('a=b', String(nowSeconds + 300)))).toBe('ok');
  expect(reason(signed('a=b', String(nowSeconds - 301)))).toBe('stale-timestamp');
  expect(reason(signed('a=b', String(nowSeconds + 301)))).toBe('future-timestamp');
  expect(reason({ ...signed('a=b'), now: new Date(Number.NaN) })).toBe('stale-timestamp');
  expect(reason({ ...signed('a=b', String(nowSeconds - 30)), toleranceSeconds: 10 })).toBe('stale-timestamp');
});

test('missing and malformed headers each have their own reason', () => {
  const input = signed('a=b');
  const without = (name: string) => ({
    ...input,
    headers: Object.fromEntries(Object.entries(input.headers).filter(([key]) => key !== name)),
  });
  expect(reason(without(TIMESTAMP_HEADER))).toBe('missing-timestamp');
  expect(reason(without(SIGNATURE_HEADER))).toBe('missing-signature');
  expect(reason({ ...input, headers: {} })).toBe('missing-timestamp');
  expect(reason({ ...input, headers: { ...input.headers, [TIMESTAMP_HEADER]: '' } })).toBe(
    'missing-timestamp',
  );
  for (const timestamp of ['1e9', '-1', ' 1', '0x10', '1749000000.5', '9'.repeat(13)]) {
    expect(reason({ ...input, headers: { ...input.headers, [TIMESTAMP_HEADER]: timestamp } })).toBe(
      'malformed-timestamp',
    );
  }
  const good = String(input.headers[SIGNATURE_HEADER]);
  for (const signature of [
    good.slice(3),
    `v1=${good.slice(3)}`,
    good.toUpperCase(),
    `${good}0`,
    good.slice(0, -1),
  ]) {
    expect(reason({ ...input, headers: { ...input.headers, [SIGNATURE_HEADER]: signature } })).toBe(
      'malformed-signature',
    );
  }
});

test('an empty signing secret verifies nothing, not even a request signed with it', () => {
  expect(reason({ ...signed('a=b', String(nowSeconds), ''), signingSecret: '' })).toBe(
    'missing-signing-secret',
  );
});

describe('fuzz: never throws, whatever arrives', () => {
  const headerValue = fc.oneof(
    fc.string(),
    fc.stringMatching(/^\d{1,14}$/),
    fc.stringMatching(/^v0=[0-9a-f]{0,70}$/),
    fc.constant(undefined),
  );
  const headers = fc.oneof(
    fc.dictionary(fc.string(), headerValue),
    fc.record({ [TIMESTAMP_HEADER]: headerValue, [SIGNATURE_HEADER]: headerValue }),
    fc.record({
      [TIMESTAMP_HEADER]: fc.integer({ min: nowSeconds - 400, max: nowSeconds + 400 }).map(String),
      [SIGNATURE_HEADER]: headerValue,
    }),
  );

  test('arbitrary headers and bodies give a typed verdict, and never a false acceptance', () => {
    fc.assert(
      fc.property(headers, fc.uint8Array({ maxLength: 512 }), fc.string(), (h, body, secret) => {
        const verdict = verifySlackSignature({ headers: h, rawBody: body, signingSecret: secret, now: NOW });
        if (verdict.ok) {
          // Only possible if the fuzzer forged an HMAC: fail loudly if it ever does.
          const timestamp = String(verdict.timestamp);
          expect(h[SIGNATURE_HEADER]).toBe(`v0=${sign(secret, timestamp, body)}`);
        } else {
          expect(typeof verdict.reason).toBe('string');
          expect(typeof verdict.message).toBe('string');
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('a correctly signed arbitrary body always verifies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.string({ minLength: 1 }), (body, secret) => {
        const timestamp = String(nowSeconds);
        const verdict = verifySlackSignature({
          headers: {
            [TIMESTAMP_HEADER]: timestamp,
            [SIGNATURE_HEADER]: `v0=${sign(secret, timestamp, body)}`,
          },
          rawBody: body,
          signingSecret: secret,
          now: NOW,
        });
        expect(verdict.ok).toBe(true);
      }),
    );
  });
});
