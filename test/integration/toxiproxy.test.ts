import { createServer, type Server } from 'node:http';
import { awsErrors, HttpFaultLayer } from '#devkit/http-fault-layer';
import { ToxiproxyServer, type Proxy } from '#devkit/toxiproxy';

// The fault tools of the chaos suite against a plain HTTP upstream: a real toxiproxy (built by
// scripts/toxiproxy-binary.sh) and the request-level fault layer in front of it.
let upstream: Server;
let toxiproxy: ToxiproxyServer;
let proxy: Proxy;
let layer: HttpFaultLayer;

beforeAll(async () => {
  upstream = createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  toxiproxy = await ToxiproxyServer.start();
  proxy = await toxiproxy.createProxy('upstream', `127.0.0.1:${port}`);
  layer = await HttpFaultLayer.listen({ host: '127.0.0.1', port: proxy.port });
});

afterAll(async () => {
  await layer.close();
  await toxiproxy.stop();
  await new Promise((resolve) => upstream.close(resolve));
});

const get = async (): Promise<string> => {
  const response = await fetch(layer.endpoint, { signal: AbortSignal.timeout(10_000) });
  return `${response.status} ${await response.text()}`;
};

test('a proxy forwards, and toxiproxy counts its connections and bytes', async () => {
  const before = await proxy.counters();
  expect(await get()).toBe('200 hello');
  const after = await proxy.counters();
  expect(after.connections).toBeGreaterThan(before.connections);
  expect(after.bytesFromClients).toBeGreaterThan(before.bytesFromClients);
  expect(after.bytesFromUpstream).toBeGreaterThan(before.bytesFromUpstream);
});

test('toxics are added, listed in the proxy state, and removed', async () => {
  const name = await proxy.addToxic({ type: 'latency', attributes: { latency: 300 } });
  expect((await proxy.state()).toxics).toEqual([
    expect.objectContaining({ name, type: 'latency', attributes: { latency: 300, jitter: 0 } }),
  ]);
  expect(await get()).toBe('200 hello'); // slower, still answered
  await proxy.removeToxic(name);
  expect((await proxy.state()).toxics).toEqual([]);
});

test('reset_peer makes the connection fail; removing it heals', async () => {
  const name = await proxy.addToxic({ type: 'reset_peer', attributes: { timeout: 0 } });
  await expect(get()).rejects.toThrow();
  expect(layer.counters.upstreamErrors).toBeGreaterThan(0);
  await proxy.removeToxic(name);
  expect(await get()).toBe('200 hello');
});

test('a disabled proxy is a dependency that is down; enabled, it is back', async () => {
  await proxy.disable();
  expect((await proxy.state()).enabled).toBe(false);
  const refusedBefore = layer.counters.upstreamErrors;
  await expect(get()).rejects.toThrow();
  expect(layer.counters.upstreamErrors).toBe(refusedBefore + 1);
  await proxy.enable();
  expect(await get()).toBe('200 hello');
});

test('the fault layer answers an AWS error a given number of times, then passes requests through', async () => {
  const handle = layer.inject({ match: () => true, action: awsErrors.throttle(), times: 2 });
  expect(await get()).toMatch(/^400 .*ThrottlingException/);
  expect(await get()).toMatch(/^400 /);
  expect(await get()).toBe('200 hello');
  expect(handle.served).toBe(2);
});

test('reset() removes every toxic and enables every proxy', async () => {
  await proxy.addToxic({ type: 'slow_close', attributes: { delay: 100 } });
  await proxy.disable();
  await toxiproxy.reset();
  expect(await proxy.state()).toMatchObject({ enabled: true, toxics: [] });
});
