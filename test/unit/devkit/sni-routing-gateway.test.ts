import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { peeringServerName, startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { pollUntil } from '#devkit/poll';
import { clientHelloBytes } from './client-hellos';

// Two gateways on loopback, each datacenter's "server" an echo server: what a client sends comes back
// only if the gateways routed it, unchanged, to the right place.
const TRUST = {
  dc1: '11111111-aaaa-4bbb-8ccc-000000000001.consul',
  dc2: '22222222-aaaa-4bbb-8ccc-000000000002.consul',
};

interface EchoServer {
  server: Server;
  port: number;
  connections: number;
}

async function echoServer(): Promise<EchoServer> {
  const echo: EchoServer = { server: createServer(), port: 0, connections: 0 };
  echo.server.on('connection', (socket) => {
    echo.connections += 1;
    socket.pipe(socket);
  });
  echo.server.listen(0, '127.0.0.1');
  await once(echo.server, 'listening');
  echo.port = (echo.server.address() as { port: number }).port;
  return echo;
}

let servers: EchoServer[];
let g1: SniRoutingGateway, g2: SniRoutingGateway;

beforeEach(async () => {
  servers = await Promise.all([echoServer(), echoServer()]);
  [g1, g2] = (await startMeshGateways([
    { datacenter: 'dc1', trustDomain: TRUST.dc1, ports: { grpcTls: servers[0]?.port ?? 0 } },
    { datacenter: 'dc2', trustDomain: TRUST.dc2, ports: { grpcTls: servers[1]?.port ?? 0 } },
  ])) as [SniRoutingGateway, SniRoutingGateway];
});

afterEach(async () => {
  await Promise.all([g1.close(), g2.close()]);
  for (const { server } of servers) server.close();
});

/** Connects to `gateway`, sends `chunks` one turn apart, and collects what comes back until it closes. */
async function exchange(gateway: SniRoutingGateway, chunks: Buffer[], keepOpenUntil?: number) {
  const socket: Socket = createConnection({ host: '127.0.0.1', port: gateway.port });
  await once(socket, 'connect');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = once(socket, 'close');
  for (const chunk of chunks) {
    socket.write(chunk);
    await nextTurn();
  }
  if (keepOpenUntil !== undefined) {
    await pollUntil('the echo', () =>
      Promise.resolve(Buffer.concat(received).length >= keepOpenUntil ? true : undefined),
    );
    socket.end();
  }
  await closed;
  return Buffer.concat(received);
}

test('the SNI of the server name Consul dials is server.<dc>.peering.<trust domain>', () => {
  expect(peeringServerName('dc1', 'ABC.consul')).toBe('server.dc1.peering.abc.consul');
});

test("a dialer's gateway routes a peer's SNI to the peer's gateway, which routes it locally; bytes unchanged", async () => {
  const hello = await clientHelloBytes({ servername: peeringServerName('dc1', TRUST.dc1) });
  const stream = Buffer.from('the replication stream, still encrypted');
  // The hello arrives in three TCP chunks, the stream after it.
  const chunks = [hello.subarray(0, 3), hello.subarray(3, 700), hello.subarray(700), stream];
  const sent = Buffer.concat(chunks);
  expect(await exchange(g2, chunks, sent.length)).toEqual(sent);

  const carried = { connections: 1, bytesIn: sent.length, bytesOut: sent.length };
  expect(g2.routed('dc1')).toEqual(carried); // remote route
  expect(g1.routed('dc1')).toEqual(carried); // local route
  expect(g2.routed('dc2')).toEqual({ connections: 0, bytesIn: 0, bytesOut: 0 });
  expect(g1.counters.total).toEqual(carried);
  expect([...g1.counters.routes.keys(), ...g2.counters.routes.keys()]).toEqual(['dc1', 'dc1']);
  expect([g1.counters.unrouted, g2.counters.unrouted]).toEqual([0, 0]);
  expect(servers.map((s) => s.connections)).toEqual([1, 0]);
});

test('a gateway serves both directions: each SNI goes where it is served', async () => {
  for (const [gateway, dc] of [
    [g1, 'dc2'],
    [g2, 'dc1'],
    [g1, 'dc1'],
  ] as const) {
    const hello = await clientHelloBytes({ servername: peeringServerName(dc, TRUST[dc]) });
    expect(await exchange(gateway, [hello], hello.length)).toEqual(hello);
  }
  expect(g1.routed('dc1').connections).toBe(2); // from g2, and its own client
  expect(g1.routed('dc2').connections).toBe(1);
  expect(g2.routed('dc1').connections).toBe(1);
  expect(g2.routed('dc2').connections).toBe(1);
  expect(servers.map((s) => s.connections)).toEqual([2, 1]);
});

test('what cannot be routed is closed and counted, never sent anywhere', async () => {
  const cases = [
    await clientHelloBytes({ servername: peeringServerName('dc3', TRUST.dc1) }), // no such datacenter
    await clientHelloBytes({ servername: peeringServerName('dc1', TRUST.dc2) }), // dc1 of another trust domain
    await clientHelloBytes({ servername: 'web.default.dc1.internal.example' }), // not peering traffic
    await clientHelloBytes({}), // no SNI
    Buffer.from('GET / HTTP/1.1\r\n\r\n'), // not TLS
  ];
  for (const bytes of cases) expect(await exchange(g2, [bytes])).toEqual(Buffer.alloc(0));
  expect(g2.counters.unrouted).toBe(5);
  expect(g2.unroutedReasons).toEqual([
    `no route for SNI "server.dc3.peering.${TRUST.dc1}"`,
    `no route for SNI "server.dc1.peering.${TRUST.dc2}"`,
    'no route for SNI "web.default.dc1.internal.example"',
    'a ClientHello without SNI',
    'not a TLS handshake record (first byte 0x47)',
  ]);
  expect(g2.counters.total).toEqual({ connections: 0, bytesIn: 0, bytesOut: 0 });
  expect(servers.map((s) => s.connections)).toEqual([0, 0]);
});

test('a client closing mid-hello is unrouted; a connect-and-close (the TCP health check) is a probe', async () => {
  const hello = await clientHelloBytes({ servername: peeringServerName('dc1', TRUST.dc1) });
  const partial = createConnection({ host: '127.0.0.1', port: g1.port });
  await once(partial, 'connect');
  partial.end(hello.subarray(0, 100));
  const probe = createConnection({ host: '127.0.0.1', port: g1.port });
  await once(probe, 'connect');
  probe.end();
  await pollUntil('both closes seen by the gateway', () =>
    Promise.resolve(g1.counters.unrouted + g1.counters.probes === 2 ? true : undefined),
  );
  expect(g1.counters).toMatchObject({ unrouted: 1, probes: 1 });
  expect(g1.unroutedReasons).toEqual(['closed after 100 bytes, before its ClientHello was complete']);
});
