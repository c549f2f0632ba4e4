/**
 * Both transports of etcd's JSON gateway (node:http, the CLI's; undici, a worker's) against
 * members that fail before answering, with a real etcd behind them:
 * - a member that takes the TCP connection and never completes the TLS handshake costs one
 *   attempt, then the next member answers. (undici acts on an abort only once connected: the
 *   undici transport waited for its 10 s connect timeout, past the deadline, and the call
 *   failed with EtcdTimeout.)
 * - the undici transport gives up when the signal fires even before its socket connected
 *   (a lease renewal's attempt is shorter than the connect timeout);
 * - a host name whose every address refuses reads as refused (Node's AggregateError has no
 *   message of its own);
 * - each way a member can fail to answer (silent, refused, reset before or in the middle of
 *   an answer, TLS spoken to a plain port) gets the same kind and the same words through
 *   both transports, and so the same error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { freePort } from '../../src/local/etcd-server.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { kvRange } from '../../src/store/kv.js';
import { GatewayNoAnswer, gatewayPost, nodeHttpTransport } from '../../src/store/gateway.js';
import { probeMembers } from '../../src/store/etcd-errors.js';
import { undiciGatewayTransport } from '../../src/store/gateway-undici.js';
import { isAlluxioError } from '../../src/domain/errors.js';

const transports = [
  ['node:http', nodeHttpTransport],
  ['undici', undiciGatewayTransport],
] as const;

describe('gateway transports: members that never answer', () => {
  let etcd: TestEtcd;
  let silent: Server;
  let silentPort: number;
  const held = new Set<Socket>();

  before(async () => {
    etcd = await startTestEtcd();
    // accepts connections and says nothing (a hung member, a TLS handshake never answered)
    silent = createServer((s) => {
      held.add(s);
      s.on('close', () => held.delete(s));
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((resolve) => silent?.close(() => resolve()));
    await etcd?.destroy();
  });

  // A lease renewal's attempt (TTL/4) can be shorter than the connect timeout the transport
  // was made with: the signal alone must end the request.
  it("undici: the signal ends a request still in its TLS handshake, whatever the connect timeout", { timeout: 30_000 }, async () => {
    const t = undiciGatewayTransport({}, 120_000);
    try {
      const signal = AbortSignal.timeout(500);
      const e = await t.send({ url: new URL(`https://127.0.0.1:${silentPort}/v3/lease/keepalive`), headers: {}, payload: '{}', signal }).then(
        () => assert.fail('answered'),
        (x: unknown) => x,
      );
      assert.equal((e as Error).name, 'TimeoutError', String(e));
    } finally {
      t.close();
    }
  });

  for (const [name, transport] of transports) {
    it(`${name}: a member stuck in its TLS handshake costs one attempt; the next member answers`, async () => {
      // 6 s deadline, 3 s per member: the silent member first
      const conn = new EtcdConnection({ endpoints: [`https://127.0.0.1:${silentPort}`, etcd.endpoint], cluster: 'transport', timeoutMs: 6000, gatewayTransport: transport });
      try {
        const r = await kvRange(conn, 'read', { key: '/alluxio/transport/', prefix: true });
        assert.ok(r.revision > 0);
        assert.deepEqual(r.kvs, []);
      } finally {
        conn.close();
      }
    });

    it(`${name}: the same for a member that takes the request over plain http and never answers`, async () => {
      const conn = new EtcdConnection({ endpoints: [`http://127.0.0.1:${silentPort}`, etcd.endpoint], cluster: 'transport', timeoutMs: 6000, gatewayTransport: transport });
      try {
        const r = await kvRange(conn, 'read', { key: '/alluxio/transport/', prefix: true });
        assert.ok(r.revision > 0);
      } finally {
        conn.close();
      }
    });

    it(`${name}: a host name whose addresses all refuse is reported as refused`, async () => {
      const port = await freePort();
      const conn = new EtcdConnection({ endpoints: [`http://localhost:${port}`], cluster: 'transport', timeoutMs: 3000, gatewayTransport: transport });
      try {
        const e = await kvRange(conn, 'read', { key: '/alluxio/transport/', prefix: true }).then(
          () => assert.fail('read from a port nobody listens on'),
          (x: unknown) => x,
        );
        assert.ok(isAlluxioError(e), String(e));
        assert.equal(e.code, 'EtcdUnavailable');
        assert.match(e.message, /etcd is unreachable at http:\/\/localhost:\d+ \(.*ECONNREFUSED.*connection refused/);
      } finally {
        conn.close();
      }
    });
  }
});

describe('gateway transports: each failure named alike', () => {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const ports: Record<'silent' | 'reset' | 'cut' | 'plain', number> = { silent: 0, reset: 0, cut: 0, plain: 0 };
  let refusedPort = 0;

  const serve = async (onSocket: (s: Socket) => void): Promise<number> => {
    const srv = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      onSocket(s);
    });
    servers.push(srv);
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return (srv.address() as { port: number }).port;
  };

  before(async () => {
    ports.silent = await serve(() => undefined);
    // takes the request, closes without a byte
    ports.reset = await serve((s) => s.once('data', () => s.destroy()));
    // a 503 whose body stops after 10 of 1000 bytes
    ports.cut = await serve((s) =>
      s.once('data', () => {
        s.write('HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"error":"');
        setImmediate(() => s.destroy());
      }),
    );
    // a plain-text server (asked over https: not TLS)
    ports.plain = await serve((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')));
    refusedPort = await freePort();
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  });

  const cases = [
    ['silent', () => `http://127.0.0.1:${ports.silent}`, 'silent', 'no answer'],
    ['refused', () => `http://127.0.0.1:${refusedPort}`, 'refused', 'connection refused'],
    ['reset before an answer', () => `http://127.0.0.1:${ports.reset}`, 'reset', 'connection closed before a whole answer'],
    ['cut in the middle of an answer', () => `http://127.0.0.1:${ports.cut}`, 'reset', 'connection closed before a whole answer'],
    ['TLS spoken to a plain port', () => `https://127.0.0.1:${ports.plain}`, 'tls', /^TLS handshake failed: /],
  ] as const;

  for (const [what, endpoint, kind, reason] of cases) {
    it(`${what}: kind ${kind}, the same words from both transports`, async () => {
      const reasons: string[] = [];
      for (const [name, transport] of transports) {
        const conn = new EtcdConnection({ endpoints: [endpoint()], cluster: 'transport', timeoutMs: 3000, gatewayTransport: transport });
        try {
          const e = await gatewayPost(conn, endpoint(), '/v3/maintenance/status', {}, AbortSignal.timeout(1500)).then(
            () => assert.fail(`${name}: answered`),
            (x: unknown) => x,
          );
          assert.ok(e instanceof GatewayNoAnswer, `${name}: ${String(e)}`);
          assert.equal(e.kind, kind, `${name}: ${e.message}`);
          if (typeof reason === 'string') assert.equal(e.reason, reason, name);
          else assert.match(e.reason, reason, name);
          const [probe] = await probeMembers(conn, 1500);
          assert.equal(probe!.answered, false, name);
          assert.equal(probe!.kind, kind, name);
          reasons.push(probe!.error ?? '');
        } finally {
          conn.close();
        }
      }
      if (typeof reason === 'string') assert.equal(reasons[0], reasons[1]);
    });
  }

  // (Through undici a member refusing the client certificate under TLS 1.3 is a connection
  // closed before an answer too, with no TLS words: "unreachable" names the TLS flags.)
  it('a read from members that closed the connection before a whole answer is "unreachable" through both transports', async () => {
    for (const [name, transport] of transports) {
      const conn = new EtcdConnection({ endpoints: [`http://127.0.0.1:${ports.cut}`, `http://127.0.0.1:${ports.reset}`], cluster: 'transport', timeoutMs: 3000, gatewayTransport: transport });
      try {
        const e = await kvRange(conn, 'read', { key: '/alluxio/transport/', prefix: true }).then(
          () => assert.fail(`${name}: answered`),
          (x: unknown) => x,
        );
        assert.ok(isAlluxioError(e), String(e));
        assert.equal(e.code, 'EtcdUnavailable', name);
        assert.match(e.message, /^etcd is unreachable at /, `${name}: ${e.message}`);
        assert.match(e.message, /127\.0\.0\.1:\d+: connection closed before a whole answer; http:\/\/127\.0\.0\.1:\d+: connection closed before a whole answer/, name);
      } finally {
        conn.close();
      }
    }
  });
});
