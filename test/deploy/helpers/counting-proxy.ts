/**
 * A TCP proxy on a free loopback port in front of another port, counting the bytes the upstream
 * sends back: an independent measure of what a client (the engine pulling from a registry)
 * actually downloaded, headers included. Closed when the test ends.
 */
import net from 'node:net';
import type { TestContext } from 'node:test';

export interface CountingProxy {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  /** Bytes sent from the upstream to clients since the last reset. */
  bytes(): number;
  reset(): void;
}

export async function countingProxy(t: TestContext, upstreamPort: number): Promise<CountingProxy> {
  let bytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    upstream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    // Each side's end is passed on by pipe() once its data is flushed; only errors cut both.
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy()).on('close', () => sockets.delete(client));
    upstream.on('error', () => client.destroy()).on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    bytes: () => bytes,
    reset: () => {
      bytes = 0;
    },
  };
}
