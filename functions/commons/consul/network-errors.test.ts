import { inspect } from 'node:util';

import { errorFromNetworkFailure, timeoutError } from './network-errors';
import { redactor } from '../observability/redact';

const REQUEST = { method: 'PUT', path: '/v1/config' };
const ADDRESS = 'https://consul.internal:8501';
const SECRET = '9f0c2b7e-secret-token-4411';
const redact = redactor([SECRET]);

const systemError = (message: string, code: string): Error => Object.assign(new Error(message), { code });

describe('errorFromNetworkFailure', () => {
  it.each([
    ['ECONNREFUSED', 'refused', true, /Check the address and port and that the Consul agent is running/],
    ['ENOTFOUND', 'dns', true, /did not resolve/],
    ['EAI_AGAIN', 'dns', true, /did not resolve/],
    ['UND_ERR_CONNECT_TIMEOUT', 'connect-timeout', true, /security groups/],
    ['ECONNRESET', 'reset', false, /closed by the other side/],
    ['UND_ERR_SOCKET', 'reset', false, /closed by the other side/],
    ['EHOSTUNREACH', 'unreachable', false, /unreachable/],
  ])('%s → connection failure %s (request not sent: %s)', (code, failure, notSent, check) => {
    const error = errorFromNetworkFailure(REQUEST, ADDRESS, systemError(`boom ${code}`, code), redact);
    expect(error).toMatchObject({ kind: 'connection' });
    expect(error).toMatchObject({
      failure,
      code,
      requestNotSent: notSent,
      retryable: true,
      reason: 'consul.connection',
    });
    expect(error.message).toContain(`PUT /v1/config at ${ADDRESS}`);
    expect(error.message).toMatch(check);
  });

  it('finds the code inside an AggregateError of a dual-stack connect', () => {
    const aggregate = new AggregateError(
      [
        systemError('connect ECONNREFUSED ::1:8500', 'ECONNREFUSED'),
        systemError('connect ECONNREFUSED 127.0.0.1:8500', 'ECONNREFUSED'),
      ],
      '',
    );
    expect(errorFromNetworkFailure(REQUEST, ADDRESS, aggregate, redact)).toMatchObject({
      failure: 'refused',
    });
  });

  it('finds the code on the cause undici wraps', () => {
    const wrapped = new TypeError('fetch failed', {
      cause: systemError('getaddrinfo ENOTFOUND consul', 'ENOTFOUND'),
    });
    expect(errorFromNetworkFailure(REQUEST, ADDRESS, wrapped, redact)).toMatchObject({ failure: 'dns' });
  });

  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
    ['CERT_HAS_EXPIRED', 'certificate has expired'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"],
  ])('%s → TLS error pointing at the CA file and server name', (code, message) => {
    const error = errorFromNetworkFailure(REQUEST, ADDRESS, systemError(message, code), redact);
    expect(error).toMatchObject({ kind: 'tls' });
    expect(error).toMatchObject({ code, retryable: false, reason: 'consul.tls' });
    expect(error.message).toMatch(/caCert is the CA that signed/);
    expect(error.message).toMatch(/tlsServerName/);
  });

  it('recognises https:// spoken to a plain HTTP port', () => {
    const error = errorFromNetworkFailure(
      REQUEST,
      ADDRESS,
      systemError('error:0A00010B:SSL routines::wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'),
      redact,
    );
    expect(error).toMatchObject({ kind: 'tls' });
    expect(error.message).toMatch(/does not speak TLS/);
  });

  it('redacts a secret from the message and does not keep a cause that mentions it', () => {
    const error = errorFromNetworkFailure(
      REQUEST,
      ADDRESS,
      systemError(`socket hang up (x-consul-token: ${SECRET})`, 'ECONNRESET'),
      redact,
    );
    expect(error.message).toContain('[REDACTED]');
    for (const text of [
      error.message,
      error.stack ?? '',
      JSON.stringify(error),
      inspect(error, { depth: 10 }),
    ]) {
      expect(text).not.toContain(SECRET);
    }
  });

  it('keeps a harmless transport error as the cause for debugging', () => {
    const original = systemError('connect ECONNREFUSED 127.0.0.1:8500', 'ECONNREFUSED');
    expect(errorFromNetworkFailure(REQUEST, ADDRESS, original, redact).cause).toBe(original);
  });
});

describe('timeoutError', () => {
  it('is a retryable connection error that may have been sent', () => {
    const error = timeoutError(REQUEST, ADDRESS, 250);
    expect(error).toMatchObject({ failure: 'timeout', requestNotSent: false, retryable: true });
    expect(error.message).toContain('no answer within 250 ms');
  });
});
