/**
 * Reads through the owning worker when the workers serve HTTPS only: the peer read goes over
 * HTTPS, verified against --tls-peer-ca, and the bytes are the file's. Without the CA the
 * peer is not trusted: the read still succeeds (from the reader's own cache / the UFS) and the
 * failed peer read is counted, never a wrong byte.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local/etcd-server.js';
import { placementOrder } from '../../src/domain/placement.js';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { until } from '../helpers/poll.js';
import { startWorker, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { makeTestCerts, type TestCerts } from './certs.js';
import { fuseSkipReason, startFuse } from '../helpers/fuse.js';
import { pattern } from '../cache/harness.js';

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpsRequest(url, { ca }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/**
 * Files in the UFS: a test needs one owned by the second of two workers, whose ports (hence
 * the placement) differ every run; with 8 files none was, one run in 256.
 */
const FILES = 32;

describe('peer reads between HTTPS-only workers', () => {
  let etcd: TestEtcd;
  let certs: TestCerts;
  let dir: string;
  let ca: Buffer;
  const ws: { w: WorkerProcess; s3: number; rest: number }[] = [];

  async function start(cluster: string, id: string, peerCa: boolean): Promise<{ w: WorkerProcess; s3: number; rest: number }> {
    const s3 = await freePort();
    const rest = await freePort();
    const w = await startWorker(etcd.endpoint, {
      cluster,
      id,
      noWait: true,
      extraArgs: [
        '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-only', '--s3-tls-port', String(s3), '--rest-tls-port', String(rest),
        ...(peerCa ? ['--tls-peer-ca', certs.ca] : []),
        '--cache-dir', join(dir, `cache-${id}`), '--cache-size', '64MiB', '--page-size', '64KiB',
      ],
    });
    const x = { w, s3, rest };
    ws.push(x);
    return x;
  }

  const metricOf = async (x: { rest: number }, name: string): Promise<number> => {
    const text = (await httpsGet(`https://127.0.0.1:${x.rest}/metrics`, ca)).body.toString();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  };

  async function cluster(name: string, peerCa: boolean): Promise<{ w: WorkerProcess; s3: number; rest: number }[]> {
    const r = await cliFor(etcd.endpoint, name)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${join(dir, 'ufs')}`]);
    assert.equal(r.code, 0, r.stderr);
    const pair = [await start(name, `${name}-a`, peerCa), await start(name, `${name}-b`, peerCa)];
    for (const x of pair) {
      await until(`${x.w.id} sees both workers in its ring`, async () => {
        const r = await httpsGet(`https://127.0.0.1:${x.rest}/api/v1/status`, ca).catch(() => undefined);
        return r?.status === 200 && (JSON.parse(r.body.toString()) as { ring: { members: unknown[] } }).ring.members.length === 2;
      });
    }
    return pair;
  }

  before(async () => {
    etcd = await startTestEtcd();
    certs = makeTestCerts();
    ca = readFileSync(certs.ca);
    dir = mkdtempSync(join(tmpdir(), 'peer-tls-'));
    mkdirSync(join(dir, 'ufs'));
    for (let i = 0; i < FILES; i++) writeFileSync(join(dir, 'ufs', `f${i}.bin`), pattern(200_000 + i, i));
  });
  after(async () => {
    await stopWorkers(ws.map((x) => x.w));
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(certs.dir, { recursive: true, force: true });
  });

  /** A file owned by the second worker of `pair` (names are host:restPort, the HTTPS port here). */
  const ownedBySecond = (pair: { rest: number }[]): number => {
    const names = pair.map((x) => `127.0.0.1:${x.rest}`);
    const i = Array.from({ length: FILES }, (_, k) => k).find((k) => placementOrder(names, `file://${join(dir, 'ufs')}/f${k}.bin`)[0] === names[1]);
    assert.ok(i !== undefined);
    return i;
  };

  let verified: { w: WorkerProcess; s3: number; rest: number }[] = [];

  it('with --tls-peer-ca: a non-owner reads the file from its owner over HTTPS', async () => {
    const pair = await cluster(`pt${process.pid}`, true);
    verified = pair;
    const i = ownedBySecond(pair);
    const r = await httpsGet(`https://127.0.0.1:${pair[0]!.s3}/data/f${i}.bin`, ca);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(pattern(200_000 + i, i)));
    assert.equal(await metricOf(pair[0]!, 'alluxio_peer_read_bytes_total'), 200_000 + i);
    assert.equal(await metricOf(pair[0]!, 'alluxio_peer_read_failures_total'), 0);
    assert.equal(await metricOf(pair[1]!, 'alluxio_ufs_read_bytes_total'), 200_000 + i, 'the owner fetched it');
  });

  it('without a CA that trusts the peer: the read still succeeds from the reader itself, and the failure is counted', async () => {
    const pair = await cluster(`pu${process.pid}`, false);
    const i = ownedBySecond(pair);
    const r = await httpsGet(`https://127.0.0.1:${pair[0]!.s3}/data/f${i}.bin`, ca);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(pattern(200_000 + i, i)));
    assert.equal(await metricOf(pair[0]!, 'alluxio_peer_read_failures_total'), 1);
    assert.equal(await metricOf(pair[0]!, 'alluxio_ufs_read_bytes_total'), 200_000 + i, 'served from its own cache, which read the UFS');
  });

  it('the FUSE daemon reads through the HTTPS-only owners with --tls-ca', { skip: fuseSkipReason() }, async () => {
    assert.equal(verified.length, 2, 'needs the first test');
    const names = verified.map((x) => `127.0.0.1:${x.rest}`);
    // bytes a worker served from its cache or fetched into it from the UFS
    const served = async (x: { rest: number }): Promise<number> =>
      (await metricOf(x, 'alluxio_cache_bytes_read_total')) + (await metricOf(x, 'alluxio_ufs_read_bytes_total')) + (await metricOf(x, 'alluxio_cache_colocated_bytes_total'));
    const before = await Promise.all(verified.map(served));
    const fuse = await startFuse(etcd.endpoint, { cluster: `pt${process.pid}`, extraArgs: ['--tls-ca', certs.ca] });
    try {
      for (let k = 0; k < 8; k++) {
        assert.ok(readFileSync(join(fuse.mountpoint, 'data', `f${k}.bin`)).equals(pattern(200_000 + k, k)), `f${k}.bin`);
      }
      assert.doesNotMatch(fuse.log(), /peer read failed/);
      const after = await Promise.all(verified.map(served));
      // every file was served by its owner (from its cache, filled on the way)
      for (let i = 0; i < 2; i++) {
        const owned = Array.from({ length: 8 }, (_, k) => k).filter((k) => placementOrder(names, `file://${join(dir, 'ufs')}/f${k}.bin`)[0] === names[i]);
        assert.ok(after[i]! - before[i]! >= owned.reduce((n, k) => n + 200_000 + k, 0), `worker ${i} served its files`);
      }
    } finally {
      await fuse.cleanup();
    }
  });
});
