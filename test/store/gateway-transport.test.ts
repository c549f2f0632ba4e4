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
 *   message of its own).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { freePort } from '../../src/local/etcd-server.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { kvRange } from '../../src/store/kv.js';
import { nodeHttpTransport } from '../../src/store/gateway.js';
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
