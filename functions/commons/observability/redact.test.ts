import fc from 'fast-check';
import {
  isSecretKey,
  REDACTED,
  redactedErrorMessage,
  redactingReplacer,
  redactor,
  redactText,
} from './redact';

const UUID = 'b8f3c1a2-0000-4000-8000-000000000000';
const peeringToken = (fields: object): string => Buffer.from(JSON.stringify(fields)).toString('base64');
const line = (value: unknown): string => JSON.stringify(value, redactingReplacer);

describe('redaction by key', () => {
  it.each([
    'token',
    'gatewayToken',
    'aclToken',
    'consulToken',
    'PeeringToken',
    'x-consul-token',
    'signing_secret',
    'signingSecret',
    'SecretID',
    'secretId',
    'SecretString',
    'password',
    'DB_PASSWORD',
    'authorization',
    'response_url',
    'responseUrl',
    'clientKey',
    'caKey',
  ])('redacts the value of %s', (key) => {
    expect(line({ [key]: 'hunter2-value' })).toBe(`{"${key}":"${REDACTED}"}`);
  });

  it.each([
    'tokenSecret',
    'tokenVersion',
    'connectionSecret',
    'secretName',
    'secretPrefix',
    'deletedSecretNames',
  ])('keeps %s: it names where a secret is, not the secret', (key) => {
    expect(isSecretKey(key)).toBe(false);
    expect(line({ [key]: 'consul-peering/peering-tokens/dc1/dc2' })).toContain(
      'consul-peering/peering-tokens',
    );
  });

  it('keeps flags and counts under secret-sounding names, and redacts whole objects', () => {
    expect(line({ tokenRotated: true, tokens: 3, secrets: { a: 'b' } })).toBe(
      `{"tokenRotated":true,"tokens":3,"secrets":"${REDACTED}"}`,
    );
  });
});

describe('redaction by shape, in any text', () => {
  it.each([
    ['a UUID (an ACL SecretID) in free text', `ACL not found: ${UUID}`, UUID],
    ['a UUID in an error message', `token ${UUID.toUpperCase()} rejected`, UUID.toUpperCase()],
    ['Bearer credentials', 'Authorization: Bearer abc.def-ghi', 'abc.def-ghi'],
    ['a short peering token', `token ${peeringToken({ a: 1 })}`, peeringToken({ a: 1 })],
    ['a long peering token', `with ${peeringToken({ CA: ['x'.repeat(300)] })}.`, 'eyJ'],
    ['a base64 key', 'gossip pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s= set', 'pUqJrVyVRj5jsiYEkM'],
    ['JSON in a string', 'body {"SecretID":"s3cr3t","Name":"x"}', 's3cr3t'],
    ['escaped JSON in a string', 'body {\\"token\\":\\"s3cr3t\\"}', 's3cr3t'],
    ['key=value', 'retry with password=hunter2&x=1', 'hunter2'],
    [
      'a PEM private key',
      '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----',
      'MHcCAQEE',
    ],
  ])('%s', (_what, text, secret) => {
    expect(redactText(text)).not.toContain(secret);
    expect(redactText(text)).toContain(REDACTED);
    expect(line({ message: text })).not.toContain(secret);
  });

  it('keeps identifiers and state words in printed JSON and prose', () => {
    const json = JSON.stringify({ id: UUID, gatewayToken: 'present', state: 'absent-in-consul' }, null, 2);
    expect(redactText(json)).toBe(json);
    expect(redactText(`peering id ${UUID}`)).toBe(`peering id ${UUID}`);
    expect(line({ gatewayToken: 'absent-in-consul' })).toBe('{"gatewayToken":"absent-in-consul"}');
    expect(redactText(`"secretId": "${UUID}"`)).toBe(`"secretId": "${REDACTED}"`);
  });

  it('keeps prose after a secret-named word and a colon', () => {
    const text = '--token: a token is never passed on the command line; token: missing';
    expect(redactText(text)).toBe(text);
    expect(redactText('token: Zm9vYmFyMTIz')).toBe(`token: ${REDACTED}`);
  });

  it('keeps prefixed ids, identifier fields, hex digests, secret names and ordinary words', () => {
    const text =
      'correlation id peerctl-b8f3c1a2-0000-4000-8000-000000000000 for tokenSecret=consul-peering/peering-tokens/dc1/dc2, ' +
      'sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, dial the mesh gateway';
    expect(redactText(text)).toBe(text);
    expect(line({ peeringId: UUID, messageId: UUID, function_request_id: UUID })).not.toContain(REDACTED);
  });

  it('removes the values a caller knows, whatever their shape', () => {
    expect(redactor(['root-token'])('sent root-token to x')).toBe(`sent ${REDACTED} to x`);
    expect(redactor(['abc'])('abc is too short to scrub')).toBe('abc is too short to scrub');
  });

  it('gives an error message redacted and cut short', () => {
    const message = redactedErrorMessage(new Error(`token ${UUID} ${'x'.repeat(100)}`), 40);
    expect(message).toHaveLength(40);
    expect(message).not.toContain('b8f3c1a2');
    expect(message.endsWith('…')).toBe(true);
  });
});

// Fuzz: generated secrets embedded in generated log records never survive the logger's replacer
// (and, as free text, redactText).
const word = fc.stringMatching(/^[a-z]{1,10}$/);
const sentence = fc.array(word, { maxLength: 6 }).map((words) => words.join(' '));
const separator = fc.constantFrom(' ', ': ', '=', '"', '(', '\n', ', ', "'");
/** A field name that says nothing about secrets or identifiers (such keys are tested above). */
const plainKey = word.filter((key) => !isSecretKey(key) && !/^(id|ID)$/.test(key));
const secretKey = fc
  .tuple(
    fc.constantFrom('', 'gateway', 'acl', 'consul', 'db', 'x_', 'SIGNING_'),
    fc.constantFrom('Token', 'token', 'Secret', 'secret', 'Password', 'PASSWORD', '_secret'),
    fc.constantFrom('', 'Value', 'Id', 'Current'),
  )
  .map((parts) => parts.join(''))
  .filter(isSecretKey);
/** A generated secret: random-looking (a value of only lower-case letters after a colon reads as prose). */
const opaque = fc.stringMatching(/^[A-Za-z0-9]{12,40}$/).filter((value) => !/^[a-z]+$/.test(value));

/** A secret as it could show up in text: its value, and the text it travels in. */
const embeddedSecret = fc.oneof(
  fc.uuid().map((uuid) => ({ secret: uuid, text: uuid })),
  opaque.map((value) => ({ secret: value, text: `Bearer ${value}` })),
  fc
    .record({
      CA: fc.array(opaque, { maxLength: 3 }),
      ServerAddresses: fc.array(word, { maxLength: 2 }),
      PeerID: fc.uuid(),
    })
    .map((fields) => {
      const token = peeringToken(fields);
      return { secret: token, text: token };
    }),
  fc
    .tuple(secretKey, opaque)
    .map(([key, value]) => ({ secret: value, text: JSON.stringify({ [key]: value }) })),
  fc
    .tuple(secretKey, opaque)
    .map(([key, value]) => ({ secret: value, text: JSON.stringify(JSON.stringify({ [key]: value })) })),
  fc.tuple(secretKey, opaque).map(([key, value]) => ({ secret: value, text: `${key}=${value}` })),
  fc.tuple(secretKey, opaque).map(([key, value]) => ({ secret: value, text: `${key}: ${value}` })),
);

const inText = fc
  .tuple(sentence, separator, embeddedSecret, separator, sentence)
  .map(([before, open, { secret, text }, close, after]) => ({
    secret,
    text: `${before}${open}${text}${close}${after}`,
  }));

/** A log record (nested objects and arrays) with the secret at a random place, in text or under a secret key. */
const record: fc.Arbitrary<{ secret: string; record: unknown }> = fc
  .tuple(
    fc.oneof(
      inText.map(({ secret, text }): { secret: string; value: unknown } => ({ secret, value: text })),
      fc.tuple(secretKey, opaque).map(([key, secret]) => ({ secret, value: { [key]: secret } })),
    ),
    fc.array(fc.tuple(plainKey, fc.oneof(sentence, fc.integer(), fc.boolean())), { maxLength: 4 }),
    fc.array(plainKey, { minLength: 1, maxLength: 4 }),
    fc.boolean(),
  )
  .map(([{ secret, value }, noise, path, inArray]) => {
    let nested: unknown = inArray ? [value] : value;
    for (const key of path) nested = { ...Object.fromEntries(noise), [key]: nested };
    return { secret, record: nested };
  });

describe('fuzz', () => {
  it('a generated secret in a generated log record never survives the logger', () => {
    fc.assert(
      fc.property(record, ({ secret, record: value }) => {
        expect(line(value)).not.toContain(secret);
      }),
      { numRuns: 2_000 },
    );
  });

  it('a generated secret in generated text (an error message, a printed line) never survives', () => {
    fc.assert(
      fc.property(inText, ({ secret, text }) => {
        expect(redactText(text)).not.toContain(secret);
        expect(redactedErrorMessage(new Error(text))).not.toContain(secret);
      }),
      { numRuns: 2_000 },
    );
  });
});
