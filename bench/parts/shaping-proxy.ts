/**
 * A shaping TCP proxy for benchmarks: every chunk in either direction is delivered
 * `delayMs` later (one-way; a request/response pays 2 x delayMs), and the bytes from the
 * upstream to the clients share one link of `bytesPerSec` (all connections together), in
 * order per connection, with backpressure (a connection with more than 1 MiB queued stops
 * reading). A stand-in for a remote object store on loopback.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface ShapingProxy {
  port: number;
  endpoint: string;
  close(): Promise<void>;
}

export async function startShapingProxy(targetPort: number, opts: { delayMs: number; bytesPerSec: number }): Promise<ShapingProxy> {
  let downFreeAt = 0;
  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket, down: boolean): void => {
    // One FIFO and one timer per direction: chunks leave strictly in order (separate timers
    // per chunk could fire out of order after rounding and corrupt the stream).
    const q: { at: number; chunk: Buffer }[] = [];
    let lastAt = 0;
    let queued = 0;
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      const now = performance.now();
      while (q.length > 0 && q[0]!.at <= now + 0.5) {
        const { chunk } = q.shift()!;
        queued -= chunk.length;
        if (!to.destroyed) to.write(chunk);
      }
      if (queued <= 1 << 20 && from.isPaused()) from.resume();
      if (q.length > 0) timer = setTimeout(flush, Math.max(0, q[0]!.at - now));
      else if (ended && !to.destroyed) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      const now = performance.now();
      let at = now + opts.delayMs;
      if (down) {
        const start = Math.max(now, downFreeAt);
        downFreeAt = start + (chunk.length * 1000) / opts.bytesPerSec;
        at = downFreeAt + opts.delayMs;
      }
      at = Math.max(at, lastAt);
      lastAt = at;
      q.push({ at, chunk });
      queued += chunk.length;
      if (queued > 1 << 20) from.pause();
      if (!timer) timer = setTimeout(flush, Math.max(0, q[0]!.at - now));
    });
    from.on('end', () => {
      ended = true;
      if (!timer) flush();
    });
  };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipe(client, upstream, false);
    pipe(upstream, client, true);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
