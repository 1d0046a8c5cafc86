import fc from 'fast-check';
import { MAX_CLIENT_HELLO_BYTES, readClientHello } from '#devkit/tls-client-hello';
import { clientHelloBytes } from './client-hellos';

const SNI = 'server.dc1.peering.0c9b3a0e-5a3f-4a57-9d1e-2f1c3c6b7a10.consul';

let tls13: Buffer; // node 22's OpenSSL: TLS 1.3 with a hybrid post-quantum key share, about 1.6 KB
let tls12: Buffer;
let noSni: Buffer;

beforeAll(async () => {
  [tls13, tls12, noSni] = await Promise.all([
    clientHelloBytes({ servername: SNI }),
    clientHelloBytes({ servername: SNI, maxVersion: 'TLSv1.2' }),
    clientHelloBytes({}),
  ]);
});

/** Handshake bytes framed as TLS handshake records of these sizes, the rest in one last record. */
const records = (handshake: Buffer, sizes: number[] = []): Buffer => {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, handshake.length]) {
    if (at >= handshake.length) break;
    const fragment = handshake.subarray(at, at + size);
    at += fragment.length;
    out.push(Buffer.from([0x16, 0x03, 0x01, fragment.length >> 8, fragment.length & 0xff]), fragment);
  }
  return Buffer.concat(out);
};
/** The handshake message inside a single-record ClientHello. */
const handshakeOf = (hello: Buffer): Buffer => hello.subarray(5);

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const vector16 = (body: Buffer) => Buffer.concat([u16(body.length), body]);
const serverNameExtension = (...names: string[]) =>
  Buffer.concat([
    u16(0x0000),
    vector16(
      vector16(Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0]), vector16(Buffer.from(n))])))),
    ),
  ]);
/** A minimal hand-built ClientHello handshake message with these extensions (undefined: no extensions block). */
const handBuilt = (extensions?: Buffer[]): Buffer => {
  const body = Buffer.concat([
    u16(0x0303),
    Buffer.alloc(32, 7), // random
    Buffer.from([0]), // no session id
    vector16(u16(0x1301)),
    Buffer.from([1, 0]), // null compression
    ...(extensions === undefined ? [] : [vector16(Buffer.concat(extensions))]),
  ]);
  return Buffer.concat([Buffer.from([0x01, 0, body.length >> 8, body.length & 0xff]), body]);
};

describe('real ClientHellos from node:tls', () => {
  test('TLS 1.3 and TLS 1.2 hellos give their SNI; a hello without one gives undefined', () => {
    expect(readClientHello(tls13)).toEqual({ status: 'complete', serverName: SNI });
    expect(readClientHello(tls12)).toEqual({ status: 'complete', serverName: SNI });
    expect(readClientHello(noSni)).toEqual({ status: 'complete', serverName: undefined });
  });

  test('every strict prefix is incomplete: nothing is decided before the whole hello is in', () => {
    const decided = Array.from({ length: tls13.length }, (_, n) => n).filter(
      (n) => readClientHello(tls13.subarray(0, n)).status !== 'incomplete',
    );
    expect(decided).toEqual([]);
  });

  test('bytes after the hello (the rest of the flight) do not change the answer', () => {
    const more = Buffer.concat([tls13, Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01])]);
    expect(readClientHello(more)).toEqual({ status: 'complete', serverName: SNI });
  });

  test('fuzz: a hello arriving in arbitrary TCP chunks is decided exactly when its last byte arrives', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: tls13.length - 1 }), { maxLength: 40 }),
        (cuts) => {
          const ends = [...cuts.filter((c) => c < tls13.length).sort((a, b) => a - b), tls13.length];
          // What a router does: append each chunk, read again, stop at the first decision.
          const decided = ends.find((end) => readClientHello(tls13.subarray(0, end)).status !== 'incomplete');
          expect(decided).toBe(tls13.length);
          expect(readClientHello(tls13.subarray(0, decided))).toEqual({
            status: 'complete',
            serverName: SNI,
          });
        },
      ),
    );
  });

  test('fuzz: a hello split across several TLS records (RFC 8446 §5.1) is reassembled', () => {
    const handshake = handshakeOf(tls13);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        const framed = records(handshake, sizes);
        expect(readClientHello(framed)).toEqual({ status: 'complete', serverName: SNI });
        expect(readClientHello(framed.subarray(0, framed.length - 1)).status).toBe('incomplete');
      }),
    );
  });

  test('fuzz: any mutation or truncation of a real hello never throws', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(tls13.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(tls13.length),
        (edits, cut) => {
          const mutated = Buffer.from(tls13.subarray(0, Math.max(cut, 1)));
          for (const [at, value] of edits) if (at < mutated.length) mutated[at] = value;
          expect(['incomplete', 'complete', 'invalid']).toContain(readClientHello(mutated).status);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('bytes that are not a routable ClientHello', () => {
  test('fuzz: arbitrary bytes never throw, bare or behind a handshake record header', () => {
    const header = fc
      .tuple(fc.integer({ min: 0, max: 0xffff }))
      .map(([n]) => Buffer.from([0x16, 3, 1, n >> 8, n & 0xff]));
    const handshakeHeader = fc
      .integer({ min: 0, max: 0xffffff })
      .map((n) => Buffer.from([0x01, n >> 16, (n >> 8) & 0xff, n & 0xff]));
    fc.assert(
      fc.property(
        fc.option(header, { nil: undefined }),
        fc.option(handshakeHeader, { nil: undefined }),
        fc.uint8Array({ maxLength: 2_000 }),
        (record, handshake, tail) => {
          const bytes = Buffer.concat([record ?? Buffer.alloc(0), handshake ?? Buffer.alloc(0), tail]);
          const read = readClientHello(bytes);
          expect(['incomplete', 'complete', 'invalid']).toContain(read.status);
          if (read.status === 'invalid') expect(read.reason).toEqual(expect.any(String));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  test('plain text, a non-handshake record, a wrong version, oversized lengths: invalid at once', () => {
    const reason = (bytes: Buffer) => {
      const read = readClientHello(bytes);
      return read.status === 'invalid' ? read.reason : read.status;
    };
    expect(reason(Buffer.from('GET / HTTP/1.1\r\n'))).toMatch(
      /^not a TLS handshake record \(first byte 0x47\)/,
    );
    expect(reason(Buffer.from([0x17]))).toMatch(/not a TLS handshake record/); // one byte is enough
    expect(reason(Buffer.from([0x16, 0x02]))).toMatch(/record version is not 3\.x/);
    expect(reason(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]))).toMatch(/a TLS record of 16385 bytes/);
    expect(reason(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]))).toMatch(/a TLS record of 0 bytes/);
    expect(reason(records(Buffer.from([0x02, 0, 0, 0])))).toMatch(/not a ClientHello \(type 2\)/);
    expect(reason(records(Buffer.from([0x01, 0x01, 0, 1])))).toMatch(/a ClientHello of 65541 bytes/);
    expect(MAX_CLIENT_HELLO_BYTES).toBe(65_536);
    const interrupted = Buffer.concat([
      records(handshakeOf(tls13).subarray(0, 100)),
      Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
    ]);
    expect(reason(interrupted)).toMatch(/interrupted by a record that is not a handshake record/);
  });

  test('hand-built hellos: no extensions, a repeated server_name, two host names, a bad name', () => {
    const read = (handshake: Buffer) => readClientHello(records(handshake));
    expect(read(handBuilt())).toEqual({ status: 'complete', serverName: undefined });
    expect(read(handBuilt([serverNameExtension('a.example')]))).toEqual({
      status: 'complete',
      serverName: 'a.example',
    });
    expect(read(handBuilt([serverNameExtension('a'), serverNameExtension('b')]))).toMatchObject({
      status: 'invalid',
      reason: 'malformed ClientHello: extension 0 appears twice',
    });
    expect(read(handBuilt([serverNameExtension('a', 'b')]))).toMatchObject({
      reason: 'malformed ClientHello: two host names in server_name',
    });
    expect(read(handBuilt([serverNameExtension('a b')]))).toMatchObject({
      reason: 'malformed ClientHello: the host name is not printable ASCII',
    });
    const truncated = handBuilt([serverNameExtension('a.example')]);
    truncated.writeUInt16BE(0xffff, truncated.length - serverNameExtension('a.example').length - 2);
    expect(read(truncated)).toMatchObject({ reason: 'malformed ClientHello: truncated extensions' });
  });
});
