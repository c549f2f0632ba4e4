/**
 * src/store/kv.ts against real etcd: the JSON gateway (through node:http, the CLI's
 * transport, and through undici, a worker's) and the grpc client (an etcd started with
 * --enable-grpc-gateway=false) give the same answers to the same ranges and guarded
 * transactions, and map etcd's refusals to the same errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { kvGet, kvRange, kvTxn, type RangeResult } from '../../src/store/kv.js';
import { nodeHttpTransport, type GatewayTransportFactory } from '../../src/store/gateway.js';
import { undiciGatewayTransport } from '../../src/store/gateway-undici.js';
import { isAlluxioError } from '../../src/domain/errors.js';

describe('kv: JSON gateway and grpc agree', () => {
  let withGateway: TestEtcd;
  let withUndici: TestEtcd;
  let grpcOnly: TestEtcd;
  before(async () => {
    [withGateway, withUndici, grpcOnly] = await Promise.all([startTestEtcd({ maxTxnOps: 8 }), startTestEtcd({ maxTxnOps: 8 }), startTestEtcd({ extraArgs: ['--enable-grpc-gateway=false'], maxTxnOps: 8 })]);
  });
  after(async () => {
    await Promise.all([withGateway?.destroy(), withUndici?.destroy(), grpcOnly?.destroy()]);
  });

  /** The same script on both servers; returns what each step saw, for comparison. */
  async function script(endpoint: string, viaGrpc: boolean, transport: GatewayTransportFactory = nodeHttpTransport): Promise<unknown[]> {
    // Every gateway request counted, to show which transport served them.
    let sent = 0;
    const counted: GatewayTransportFactory = (tls, ms) => {
      const t = transport(tls, ms);
      return { send: (req) => (sent++, t.send(req)), close: () => t.close() };
    };
    const conn = new EtcdConnection({ endpoints: [endpoint], cluster: 'kv', gatewayTransport: counted });
    const seen: unknown[] = [];
    // Revisions differ between the two servers: record them relative to the first write.
    let base = 0;
    const rel = (r: RangeResult) => ({ kvs: r.kvs.map((kv) => ({ ...kv, modRevision: kv.modRevision - base, createRevision: kv.createRevision - base })) });
    try {
      const first = await kvTxn(conn, 'create a', { compare: [{ key: 'k/a', modRevision: 0 }], success: [{ type: 'put', key: 'k/a', value: 'één' }] });
      assert.equal(first.succeeded, true);
      base = first.revision - 1;
      // The same guarded create again: refused, nothing written.
      const again = await kvTxn(conn, 'create a again', { compare: [{ key: 'k/a', modRevision: 0 }], success: [{ type: 'put', key: 'k/a', value: 'x' }] });
      seen.push({ again: again.succeeded, rev: again.revision - base });
      for (const k of ['k/b', 'k/c', 'k/d', 'l/e']) {
        const r = await kvTxn(conn, `create ${k}`, { compare: [{ key: k, modRevision: 0 }], success: [{ type: 'put', key: k, value: k.toUpperCase() }] });
        assert.equal(r.succeeded, true);
      }
      const a = await kvGet(conn, 'get a', 'k/a');
      seen.push({ a: a.kv && { ...a.kv, modRevision: a.kv.modRevision - base } });
      // Value compares, several compares at once, a range delete.
      const byValue = await kvTxn(conn, 'swap b', {
        compare: [{ key: 'k/b', value: 'K/B' }, { key: 'k/a', modRevision: a.kv!.modRevision }],
        success: [{ type: 'put', key: 'k/b', value: 'b2' }, { type: 'deleteRange', start: 'k/c', end: 'k/e' }, { type: 'delete', key: 'l/e' }],
      });
      seen.push({ byValue: byValue.succeeded });
      const wrongValue = await kvTxn(conn, 'swap b again', { compare: [{ key: 'k/b', value: 'K/B' }], success: [{ type: 'delete', key: 'k/b' }] });
      seen.push({ wrongValue: wrongValue.succeeded });
      seen.push({ prefix: rel(await kvRange(conn, 'prefix', { key: 'k/', prefix: true })) });
      seen.push({ atRevision: rel(await kvRange(conn, 'at revision', { key: 'k/', prefix: true, revision: base + 3 })) });
      seen.push({ range: rel(await kvRange(conn, 'range', { key: 'k/a', rangeEnd: 'k/c' })) });
      seen.push({ newest: rel(await kvRange(conn, 'newest', { key: 'a', rangeEnd: 'z', newestFirst: true, limit: 1 })) });
      seen.push({ absent: (await kvGet(conn, 'absent', 'k/zz')).kv });
      // etcd's refusals: too many operations (--max-txn-ops 8), a compacted revision.
      const tooMany = await kvTxn(conn, 'too many', { compare: [], success: Array.from({ length: 9 }, (_, i) => ({ type: 'put' as const, key: `m/${i}`, value: '' })) }).catch((e: unknown) => e);
      seen.push({ tooMany: isAlluxioError(tooMany) ? tooMany.code : tooMany });
      // The gateway served every request without creating the grpc client; the other server
      // has no gateway, so the grpc client served them.
      assert.equal((conn as unknown as { etcdClient?: unknown }).etcdClient !== undefined, viaGrpc);
      if (!viaGrpc) assert.ok(sent >= 12, `the gateway transport sent ${sent} requests`);
      return seen;
    } finally {
      conn.close();
    }
  }

  it('the same answers, step by step', async () => {
    const [viaGateway, viaUndici, viaGrpc] = await Promise.all([
      script(withGateway.endpoint, false),
      script(withUndici.endpoint, false, undiciGatewayTransport),
      script(grpcOnly.endpoint, true),
    ]);
    assert.deepEqual(viaGateway, viaGrpc);
    assert.deepEqual(viaUndici, viaGrpc);
    // And what they agree on is right.
    assert.deepEqual(viaGateway[0], { again: false, rev: 1 });
    assert.deepEqual(viaGateway[2], { byValue: true });
    assert.deepEqual(viaGateway[3], { wrongValue: false });
    const prefix = viaGateway[4] as { prefix: { kvs: { key: string; value: string }[] } };
    assert.deepEqual(prefix.prefix.kvs.map((kv) => [kv.key, kv.value]), [['k/a', 'één'], ['k/b', 'b2']]);
    assert.deepEqual(viaGateway[9], { tooMany: 'TooManyChanges' });
  });
});
