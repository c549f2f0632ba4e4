/**
 * A cluster cache for tests (docs/cluster-cache.md): a real etcd, an s3:// UFS (s3rver, in
 * this process) holding `files`, the mount /data -> s3://remote/, and `workers` worker
 * processes with --cache-dir, returned once every worker's ring lists all of them. Object
 * GETs answered by the UFS are counted at s3rver itself (`ufsGets`), whoever sent them (the
 * workers, a FUSE daemon, a client), so "0 bytes from the UFS" is checked at the source.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../src/local/etcd-server.js';
import { placementOrder } from '../../src/domain/placement.js';
import { cliFor } from './cli.js';
import { startTestEtcd, type TestEtcd } from './etcd.js';
import { until } from './poll.js';
import { startWorker, stopWorkers, type WorkerProcess } from './worker.js';

const require = createRequire(import.meta.url);
type S3rver = { run(): Promise<unknown>; close(): Promise<void>; httpServer?: Server };

export interface CachingClusterOptions {
  /** Names the cluster (and the temp dir): one per test file. */
  name: string;
  /** Objects put into the UFS bucket before the workers start. */
  files: readonly { key: string; data: Buffer | string }[];
  workers?: number;
  cacheSize?: string;
  pageSize?: string;
  /** Extra `--option k=v` of the /data mount. */
  mountOptions?: string[];
  /** The workers' --lease-ttl (default 3s: a dead worker leaves the ring within seconds). */
  leaseTtl?: string;
}

export interface CachingCluster {
  etcd: TestEtcd;
  dir: string;
  cluster: string;
  /** http://127.0.0.1:<port> of the UFS. */
  ufsEndpoint: string;
  workers: WorkerProcess[];
  /** Object GETs the UFS answered, from anyone. */
  ufsGets: { requests: number; bytes: number };
  cli: ReturnType<typeof cliFor>;
  /** A worker's placement name (`127.0.0.1:<restPort>`). */
  nameOf(w: WorkerProcess): string;
  /** The resolved UFS URI of a key of /data. */
  uriOf(key: string): string;
  /** The owner of a key among `among` (default: all workers). */
  ownerOf(key: string, among?: readonly WorkerProcess[]): WorkerProcess;
  /** Sum of alluxio_ufs_read_bytes_total over `ws` (default: all workers). */
  ufsBytes(ws?: readonly WorkerProcess[]): Promise<number>;
  /** GET /data/<key> through a worker's S3 API. */
  s3Get(w: WorkerProcess, key: string): Promise<Buffer>;
  /** Wait until each of `ws` lists exactly `ws` in its ring. */
  waitForRing(ws?: readonly WorkerProcess[]): Promise<void>;
  stop(): Promise<void>;
}

/** One value of a worker's /metrics. */
async function metricOf(w: WorkerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${w.restUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} not found on ${w.id}`);
  return Number(m[1]);
}

export async function startCachingCluster(o: CachingClusterOptions): Promise<CachingCluster> {
  const etcd = await startTestEtcd();
  const dir = mkdtempSync(join(tmpdir(), `${o.name}-`));
  const cluster = `${o.name.replace(/[^A-Za-z0-9]/g, '').slice(0, 20)}${process.pid}`;
  const workers: WorkerProcess[] = [];
  const ufsGets = { requests: 0, bytes: 0 };
  let s3rver: S3rver | undefined;
  const stop = async (): Promise<void> => {
    await stopWorkers(workers);
    await s3rver?.close();
    await etcd.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const S3rverCtor = require('s3rver');
    s3rver = new S3rverCtor({ port, address: '127.0.0.1', directory: join(dir, 's3rver'), silent: true, configureBuckets: [{ name: 'remote' }] }) as S3rver;
    await s3rver.run();
    s3rver.httpServer!.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const path = new URL(req.url ?? '/', 'http://ufs').pathname;
      if (req.method !== 'GET' || !path.startsWith('/remote/') || path.length <= '/remote/'.length) return;
      res.on('finish', () => {
        ufsGets.requests++;
        ufsGets.bytes += Number(res.getHeader('content-length') ?? 0);
      });
    });
    const ufsEndpoint = `http://127.0.0.1:${port}`;
    const ufs = new S3Client({ endpoint: ufsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    for (const f of o.files) await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: f.key, Body: f.data }));
    ufs.destroy();
    const cli = cliFor(etcd.endpoint, cluster);
    const opts = ['s3a.accessKeyId=S3RVER', 's3a.secretKey=S3RVER', `s3a.endpoint=${ufsEndpoint}`, ...(o.mountOptions ?? [])].flatMap((x) => ['--option', x]);
    const r = await cli(['mount', 'add', '--path', '/data', '--ufs-uri', 's3://remote/', ...opts]);
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < (o.workers ?? 3); i++) {
      const id = `w${i}`;
      workers.push(
        await startWorker(etcd.endpoint, {
          cluster,
          id,
          leaseTtl: o.leaseTtl ?? '3s',
          extraArgs: ['--cache-dir', join(dir, `cache-${id}`), '--cache-size', o.cacheSize ?? '64MiB', '--page-size', o.pageSize ?? '64KiB'],
        }),
      );
    }
    const nameOf = (w: WorkerProcess): string => `127.0.0.1:${w.restPort}`;
    const uriOf = (key: string): string => `s3://remote/${key}`;
    const c: CachingCluster = {
      etcd,
      dir,
      cluster,
      ufsEndpoint,
      workers,
      ufsGets,
      cli,
      nameOf,
      uriOf,
      ownerOf(key, among = workers) {
        const first = placementOrder(among.map(nameOf), uriOf(key))[0];
        return among.find((w) => nameOf(w) === first)!;
      },
      async ufsBytes(ws = workers) {
        let n = 0;
        for (const w of ws) n += await metricOf(w, 'alluxio_ufs_read_bytes_total');
        return n;
      },
      async s3Get(w, key) {
        const s3 = new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
        try {
          const res = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: key }));
          return Buffer.from(await res.Body!.transformToByteArray());
        } finally {
          s3.destroy();
        }
      },
      async waitForRing(ws = workers) {
        const names = ws.map(nameOf).sort().join();
        for (const w of ws) {
          await until(`the ring of ${w.id} lists ${names}`, async () => (((await w.status()).ring?.members ?? []) as { name: string }[]).map((m) => m.name).sort().join() === names);
        }
      },
      stop,
    };
    await c.waitForRing();
    return c;
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}
