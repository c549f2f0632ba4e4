/**
 * A real TCP proxy on a free loopback port, to put a network fault between a client and a
 * real etcd: `cut()` (connections reset, new ones refused), `blackhole()` (connections stay
 * open but no byte passes: a silently dead stream), `heal()`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  endpoint: string;
  mode(): 'open' | 'cut' | 'blackhole';
  cut(): void;
  blackhole(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let state: 'open' | 'cut' | 'blackhole' = 'open';
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    if (state === 'cut') {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (d) => {
        if (state === 'open') to.write(d);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const destroyAll = () => {
    for (const [a, b] of pairs) {
      a.resetAndDestroy?.() ?? a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    mode: () => state,
    cut() {
      state = 'cut';
      destroyAll();
    },
    blackhole() {
      state = 'blackhole';
    },
    heal() {
      if (state === 'blackhole') destroyAll(); // a blackholed stream does not come back by itself
      state = 'open';
    },
    async close() {
      state = 'cut';
      destroyAll();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
