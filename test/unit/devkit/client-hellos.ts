import { Duplex } from 'node:stream';
import { connect, type ConnectionOptions } from 'node:tls';

/**
 * The first bytes node's TLS client (OpenSSL) sends for `options`: a real ClientHello, captured from
 * an in-memory wire, no network. `servername: ''` sends no SNI.
 */
export function clientHelloBytes(options: ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(Buffer.from(chunk));
        callback();
        setImmediate(() => socket.destroy());
      },
    });
    const socket = connect({ ...options, socket: wire });
    socket.on('error', reject);
  });
}
