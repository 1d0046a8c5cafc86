/**
 * Reads the server name (SNI) out of the first bytes a TLS client sends, without decrypting anything:
 * the ClientHello is the one handshake message sent in the clear, and it is all an SNI router (an
 * Envoy mesh gateway, or our stand-in for one) looks at. RFC 8446 §4.1.2 (ClientHello), §5.1 (records:
 * a handshake message may be split across several records), RFC 6066 §3 (server_name).
 */

export type ClientHelloRead =
  /** More bytes are needed before anything can be said. */
  | { status: 'incomplete' }
  /** A whole ClientHello; `serverName` is its SNI host name, undefined when it sends none. */
  | { status: 'complete'; serverName: string | undefined }
  /** These bytes can never become a ClientHello. */
  | { status: 'invalid'; reason: string };

const CONTENT_TYPE_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST_NAME = 0x00;
const RECORD_HEADER_BYTES = 5;
/** TLSPlaintext.length must not exceed 2^14 (RFC 8446 §5.1). */
const MAX_RECORD_BYTES = 2 ** 14;
/** Bounds what a router buffers; real ClientHellos are a few hundred bytes to a few KB. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

/** A field runs past the end of its enclosing vector. */
class Truncated extends Error {}
/** Well-formed bytes that no TLS stack would accept as a ClientHello. */
class Malformed extends Error {}

/** Bounds-checked big-endian reads over one slice; running past its end throws Truncated. */
class Reader {
  #at: number;
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.#at = start;
  }

  get remaining(): number {
    return this.end - this.#at;
  }

  #take(n: number, what: string): number {
    if (n > this.remaining) throw new Truncated(what);
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(what: string): number {
    return this.bytes[this.#take(1, what)] ?? 0;
  }

  u16(what: string): number {
    const at = this.#take(2, what);
    return ((this.bytes[at] ?? 0) << 8) | (this.bytes[at + 1] ?? 0);
  }

  skip(n: number, what: string): void {
    this.#take(n, what);
  }

  /** The next `n` bytes as their own reader. */
  sub(n: number, what: string): Reader {
    const at = this.#take(n, what);
    return new Reader(this.bytes, at, at + n);
  }

  /** A vector with a length prefix of `prefixBytes` (1 or 2), as its own reader. */
  vector(prefixBytes: 1 | 2, what: string): Reader {
    return this.sub(prefixBytes === 1 ? this.u8(what) : this.u16(what), what);
  }

  text(): string {
    return Buffer.from(this.bytes.subarray(this.#at, this.end)).toString('latin1');
  }
}

const invalid = (reason: string): ClientHelloRead => ({ status: 'invalid', reason });

/**
 * What the bytes received so far say about the connection's ClientHello. Never throws: any input,
 * however malformed, is `incomplete`, `complete` or `invalid`.
 */
export function readClientHello(data: Uint8Array): ClientHelloRead {
  // Reassemble the handshake message from as many records as it spans.
  const fragments: Uint8Array[] = [];
  let handshakeBytes = 0;
  let messageBytes: number | undefined; // the ClientHello's length with its 4-byte header, once known
  let at = 0;
  while (messageBytes === undefined || handshakeBytes < messageBytes) {
    const header = data.subarray(at, at + RECORD_HEADER_BYTES);
    if (header.length >= 1 && header[0] !== CONTENT_TYPE_HANDSHAKE) {
      return invalid(
        at === 0
          ? `not a TLS handshake record (first byte 0x${(header[0] ?? 0).toString(16).padStart(2, '0')})`
          : 'the ClientHello is interrupted by a record that is not a handshake record',
      );
    }
    if (header.length >= 2 && header[1] !== 0x03) return invalid('not TLS: the record version is not 3.x');
    if (header.length < RECORD_HEADER_BYTES) return { status: 'incomplete' };
    const length = ((header[3] ?? 0) << 8) | (header[4] ?? 0);
    if (length === 0 || length > MAX_RECORD_BYTES) {
      return invalid(`a TLS record of ${length} bytes (expected 1 to ${MAX_RECORD_BYTES})`);
    }
    const start = at + RECORD_HEADER_BYTES;
    if (data.length < start + length) return { status: 'incomplete' };
    fragments.push(data.subarray(start, start + length));
    handshakeBytes += length;
    at = start + length;
    if (messageBytes === undefined && handshakeBytes >= 4) {
      const head = Buffer.concat(fragments).subarray(0, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) {
        return invalid(`the first handshake message is not a ClientHello (type ${head[0] ?? 0})`);
      }
      messageBytes = 4 + (((head[1] ?? 0) << 16) | ((head[2] ?? 0) << 8) | (head[3] ?? 0));
      if (messageBytes > MAX_CLIENT_HELLO_BYTES) {
        return invalid(`a ClientHello of ${messageBytes} bytes (at most ${MAX_CLIENT_HELLO_BYTES})`);
      }
    }
  }
  const message = Buffer.concat(fragments).subarray(4, messageBytes);
  try {
    return { status: 'complete', serverName: serverNameOf(new Reader(message)) };
  } catch (error) {
    if (error instanceof Truncated) return invalid(`malformed ClientHello: truncated ${error.message}`);
    if (error instanceof Malformed) return invalid(`malformed ClientHello: ${error.message}`);
    throw error;
  }
}

function serverNameOf(hello: Reader): string | undefined {
  hello.skip(2, 'legacy_version');
  hello.skip(32, 'random');
  hello.vector(1, 'legacy_session_id');
  hello.vector(2, 'cipher_suites');
  hello.vector(1, 'legacy_compression_methods');
  if (hello.remaining === 0) return undefined; // a pre-extensions ClientHello: no SNI
  const extensions = hello.vector(2, 'extensions');
  const seen = new Set<number>();
  let serverName: string | undefined;
  while (extensions.remaining > 0) {
    const type = extensions.u16('extension type');
    const body = extensions.vector(2, 'extension data');
    // TLS stacks reject a repeated extension (RFC 8446 §4.2); a router must not pick one of two names.
    if (seen.has(type)) throw new Malformed(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXTENSION_SERVER_NAME) serverName = hostNameOf(body);
  }
  return serverName;
}

function hostNameOf(extension: Reader): string {
  const list = extension.vector(2, 'server_name_list');
  let hostName: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.u8('server name type');
    const name = list.vector(2, 'server name');
    if (nameType !== NAME_TYPE_HOST_NAME) continue;
    if (hostName !== undefined) throw new Malformed('two host names in server_name');
    hostName = name.text();
    if (!/^[\x21-\x7e]+$/.test(hostName)) throw new Malformed('the host name is not printable ASCII');
  }
  if (hostName === undefined) throw new Malformed('server_name without a host name');
  return hostName;
}
