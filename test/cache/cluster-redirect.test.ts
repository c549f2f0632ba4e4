/**
 * The S3 API of a cluster cache (docs/cluster-cache.md): `--s3-redirect` answers 307 to the
 * owner, which curl follows (unsigned, and re-signing with --aws-sigv4 --location-trusted) as
 * does a client that re-signs the redirected request the way Go's SDKs do; a redirected
 * request is never redirected again (no loop, even when two workers disagree); and in proxy
 * mode, the owner killed with -9 in the middle of a GET costs the client nothing: the proxy
 * continues from the byte where the owner stopped and the body is byte-identical.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { run } from '../helpers/fuse.js';
import { startWorker, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';
import { placementOrder } from '../../src/domain/placement.js';
import { pattern } from './harness.js';

const AK = 'redirect-ak';
const SK = 'redirect-secret-key';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function send(url: string, method: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sign `url` for its own host and query (what a client does for every request it sends). */
async function signedHeaders(url: string, method: string): Promise<Record<string, string>> {
  const u = new URL(url);
  const query: Record<string, string> = {};
  for (const [k, v] of u.searchParams) query[k] = v;
  const signer = new SignatureV4({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'us-east-1', service: 's3', sha256: Sha256 });
  const req = await signer.sign({
    method,
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: decodeURIComponent(u.pathname),
    query,
    headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  return req.headers as Record<string, string>;
}

/** A client that follows a 307 by signing the request again for the new URL (as Go's SDKs and minio-go do). */
async function resigningGet(url: string, method = 'GET'): Promise<{ reply: Reply; hops: string[] }> {
  const hops: string[] = [];
  let at = url;
  for (let i = 0; i < 5; i++) {
    const reply = await send(at, method, await signedHeaders(at, method));
    if (reply.status !== 307) return { reply, hops };
    at = new URL(String(reply.headers.location), at).toString();
    hops.push(at);
  }
  throw new Error(`more than 5 redirects: ${hops.join(' -> ')}`);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('S3 redirect to the owner, and failover of proxied reads', () => {
  let etcd: TestEtcd;
  let dir: string;
  const open: WorkerProcess[] = [];
  const signedCluster: WorkerProcess[] = [];
  const files = Array.from({ length: 16 }, (_, i) => ({ key: `r/f${i}.bin`, data: pattern(3000 + i * 7919, 90 + i) }));

  const nameOf = (w: WorkerProcess): string => `127.0.0.1:${w.restPort}`;
  const ownerOf = (ws: readonly WorkerProcess[], key: string): WorkerProcess => {
    const first = placementOrder(ws.map(nameOf), `file://${join(dir, 'ufs')}/${key}`)[0];
    return ws.find((w) => nameOf(w) === first)!;
  };
  /** A key of the dataset owned by `owner`. */
  const keyOwnedBy = (ws: readonly WorkerProcess[], owner: WorkerProcess): (typeof files)[number] => {
    const f = files.find((x) => ownerOf(ws, x.key) === owner);
    assert.ok(f, `some file is owned by ${owner.id}`);
    return f;
  };

  async function startCluster(cluster: string, n: number, env: Record<string, string>, extra: string[]): Promise<WorkerProcess[]> {
    const r = await cliFor(etcd.endpoint, cluster)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${join(dir, 'ufs')}`]);
    assert.equal(r.code, 0, r.stderr);
    const ws: WorkerProcess[] = [];
    for (let i = 0; i < n; i++) {
      ws.push(
        await startWorker(etcd.endpoint, {
          cluster,
          id: `${cluster}-${i}`,
          leaseTtl: '3s',
          env,
          extraArgs: ['--cache-dir', join(dir, `cache-${cluster}-${i}`), '--cache-size', '256MiB', '--page-size', '256KiB', ...extra],
        }),
      );
    }
    const names = ws.map(nameOf).sort().join();
    for (const w of ws) {
      await until(`ring of ${w.id}`, async () => {
        const st = await fetch(`${w.restUrl}/api/v1/status`, { headers: env.ALLUXIO_S3_CREDENTIALS ? await signedHeaders(`${w.restUrl}/api/v1/status`, 'GET') : {} });
        const members = ((await st.json()) as { ring?: { members: { name: string }[] } }).ring?.members ?? [];
        return members.map((m) => m.name).sort().join() === names;
      });
    }
    return ws;
  }

  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'cluster-redirect-'));
    mkdirSync(join(dir, 'ufs', 'r'), { recursive: true });
    for (const f of files) writeFileSync(join(dir, 'ufs', f.key), f.data);
    writeFileSync(join(dir, 'ufs', 'big.bin'), pattern(48 << 20, 5));
    open.push(...(await startCluster(`ro${process.pid}`, 2, {}, ['--s3-redirect'])));
    signedCluster.push(...(await startCluster(`rs${process.pid}`, 2, { ALLUXIO_S3_CREDENTIALS: `${AK}:${SK}` }, ['--s3-redirect'])));
  });
  after(async () => {
    await stopWorkers([...open, ...signedCluster]);
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a non-owner answers 307 to the owner (GET and HEAD); the owner serves; curl -L follows', async () => {
    const [a, b] = open as [WorkerProcess, WorkerProcess];
    const f = keyOwnedBy(open, b);
    const r = await send(`${a.s3Url}/data/${f.key}?versionId=null`, 'GET', {});
    assert.equal(r.status, 307);
    const loc = new URL(String(r.headers.location));
    assert.equal(loc.port, String(b.s3Port));
    assert.equal(loc.pathname, `/data/${f.key}`);
    assert.equal(loc.searchParams.get('versionId'), 'null', 'the query is kept');
    assert.equal(loc.searchParams.get('x-alluxio-redirected'), nameOf(a));
    const head = await send(`${a.s3Url}/data/${f.key}`, 'HEAD', {});
    assert.equal(head.status, 307);
    const atOwner = await send(`${b.s3Url}/data/${f.key}`, 'GET', {});
    assert.equal(atOwner.status, 200);
    assert.ok(atOwner.body.equals(f.data));
    const out = join(dir, 'curl.out');
    const c = await run('curl', ['-sS', '-L', '-o', out, '-w', '%{http_code} %{num_redirects}', `${a.s3Url}/data/${f.key}`]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.trim(), '200 1');
    assert.equal(sha((await import('node:fs')).readFileSync(out)), sha(f.data));
  });

  test('a redirected request is served where it lands: never a second redirect, no loop', async () => {
    const [a, b] = open as [WorkerProcess, WorkerProcess];
    const f = keyOwnedBy(open, b);
    // Arriving at a non-owner with the mark (as if the two disagreed on the ring): served (proxied), not redirected.
    const r = await send(`${a.s3Url}/data/${f.key}?x-alluxio-redirected=${encodeURIComponent(nameOf(b))}`, 'GET', {});
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(f.data));
    // Every file, from every worker, by a client following redirects: at most one hop.
    for (const w of open) {
      for (const x of files) {
        const c = await run('curl', ['-sS', '-L', '--max-redirs', '1', '-o', '/dev/null', '-w', '%{http_code} %{num_redirects}', `${w.s3Url}/data/${x.key}`]);
        const [code, hops] = c.stdout.trim().split(' ');
        assert.equal(code, '200', `${x.key} from ${w.id}: ${c.stdout} ${c.stderr}`);
        assert.equal(hops, ownerOf(open, x.key) === w ? '0' : '1');
      }
    }
  });

  test('signatures required: clients that sign the redirected request again get the object (curl --aws-sigv4 --location-trusted, a Go-style re-signing client)', async () => {
    const [a, b] = signedCluster as [WorkerProcess, WorkerProcess];
    const f = keyOwnedBy(signedCluster, b);
    const unsigned = await send(`${a.s3Url}/data/${f.key}`, 'GET', {});
    assert.equal(unsigned.status, 403, 'anonymous requests are refused before any redirect');
    const { reply, hops } = await resigningGet(`${a.s3Url}/data/${f.key}`);
    assert.equal(hops.length, 1);
    assert.equal(reply.status, 200, reply.body.toString());
    assert.ok(reply.body.equals(f.data));
    const out = join(dir, 'curl-signed.out');
    const c = await run('curl', ['-sS', '-L', '--location-trusted', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${AK}:${SK}`, '-o', out, '-w', '%{http_code} %{num_redirects}', `${a.s3Url}/data/${f.key}`]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.trim(), '200 1');
    assert.equal(sha((await import('node:fs')).readFileSync(out)), sha(f.data));
    // Replaying the first request's signature at the owner (what a client that does not re-sign does) is refused.
    const first = `${a.s3Url}/data/${f.key}`;
    const stale = await send(String((await send(first, 'GET', await signedHeaders(first, 'GET'))).headers.location), 'GET', await signedHeaders(first, 'GET'));
    assert.equal(stale.status, 403);
  });

  test('signatures required: a change through one worker is announced to the other, which accepts the signed announcement', async () => {
    const [a, b] = signedCluster as [WorkerProcess, WorkerProcess];
    const client = (w: WorkerProcess) => new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: AK, secretAccessKey: SK }, maxAttempts: 1 });
    const [sa, sb] = [client(a), client(b)];
    const metric = async (w: WorkerProcess, name: string) => {
      const url = `${w.restUrl}/metrics`;
      const text = (await send(url, 'GET', await signedHeaders(url, 'GET'))).body.toString();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    };
    // a name b owns, so b answers the GETs itself (no 307)
    const key = Array.from({ length: 64 }, (_, i) => `announced-${i}.bin`).find((k) => ownerOf(signedCluster, k) === b)!;
    try {
      await sa.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: 'version one' }));
      const read = async () => (await (await sb.send(new GetObjectCommand({ Bucket: 'data', Key: key }))).Body!.transformToString());
      assert.equal(await read(), 'version one'); // b's metadata cached for its TTL
      await sa.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: 'version two' }));
      assert.equal(await read(), 'version two', 'seen at once on the other worker');
      assert.ok((await metric(a, 'alluxio_peer_invalidations_total')) >= 2);
      assert.equal(await metric(a, 'alluxio_peer_invalidation_failures_total'), 0, 'the signed announcements were accepted');
    } finally {
      sa.destroy();
      sb.destroy();
    }
  });

  test('proxy mode: the owner killed with -9 in the middle of a GET; the proxy continues and the body is byte-identical', async () => {
    const ws = [...open];
    const owner = ownerOf(ws, 'big.bin');
    const proxy = ws.find((w) => w !== owner)!;
    const want = sha(pattern(48 << 20, 5));
    // The mark makes the non-owner proxy instead of redirecting.
    const url = `${proxy.s3Url}/data/big.bin?x-alluxio-redirected=test`;
    const hash = createHash('sha256');
    let got = 0;
    let killed = false;
    await new Promise<void>((resolve, reject) => {
      http.get(url, (res) => {
        assert.equal(res.statusCode, 200);
        res.on('data', (c: Buffer) => {
          hash.update(c);
          got += c.length;
          if (!killed && got >= 1 << 20) {
            killed = true;
            res.pause(); // hold the stream while the owner dies
            void owner.kill9().then(() => res.resume(), reject);
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.ok(killed);
    assert.equal(got, 48 << 20);
    assert.equal(hash.digest('hex'), want);
    assert.match(proxy.log(), /peer read failed; continuing on the next owner/);
    open.splice(open.indexOf(owner), 1);
    // The ring drops the dead worker once its lease (3 s here) expires: the survivor owns everything.
    await until('the survivor\'s ring no longer lists the killed owner', async () => {
      const members = ((await proxy.status()).ring?.members ?? []) as { name: string }[];
      return members.length === 1 && members[0]!.name === nameOf(proxy);
    });
  });
});
