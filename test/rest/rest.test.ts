/**
 * The worker's REST API (docs/rest-api.md) over HTTP against a real worker process and
 * a real etcd: mount discovery, info, listings with virtual directories, ranged reads,
 * writes, deletes, mkdir, and the JSON error vocabulary, including paths that try to
 * leave a mount.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { placementOrder } from '../../src/domain/placement.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { bytesRead, readingSettles, residentBytes } from '../helpers/proc-stats.js';
import { commit, python, startFsEnv, workerHosts, type FsEnv } from '../fsspec/env.js';

let env: FsEnv;
let base: string;
const big = randomBytes(3 * 1024 * 1024 + 123);

function api(endpoint: string, uri: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ uri, ...extra });
  return `${base}/api/v1/${endpoint}?${q.toString()}`;
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  assert.equal(res.headers.get('content-type'), 'application/json');
  const doc = (await res.json()) as { error: { code: string; message: string } };
  assert.ok(doc.error && typeof doc.error.code === 'string' && typeof doc.error.message === 'string', JSON.stringify(doc));
  return doc.error;
}

/** A raw GET with the request target sent byte for byte (fetch would normalise it). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'GET', path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  env = await startFsEnv();
  base = env.workers[0]!.restUrl;
  mkdirSync(join(env.data, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(env.data, 'dir', 'a.txt'), 'hello world, this is a.txt');
  writeFileSync(join(env.data, 'dir', 'sub', 'b.txt'), 'b');
  writeFileSync(join(env.data, 'big.bin'), big);
  writeFileSync(join(env.data, 'empty'), '');
  writeFileSync(join(env.data, 'name with space+plus%.txt'), 'odd name');
  mkdirSync(join(env.data, 'v3'), { recursive: true });
  writeFileSync(join(env.data, 'v3', 'model.bin'), 'model v3');
});

after(async () => {
  await env?.destroy();
});

describe('discovery and metadata', () => {
  test('GET /api/v1/mounts lists the mount table with the revision the worker serves', async () => {
    const res = await fetch(`${base}/api/v1/mounts`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { revision: number; mounts: { path: string; ufsUri: string; readOnly: boolean }[] };
    assert.ok(doc.revision > 0);
    assert.equal(res.headers.get('x-alluxio-revision'), String(doc.revision));
    const byPath = Object.fromEntries(doc.mounts.map((m) => [m.path, m]));
    assert.equal(byPath['/data']!.readOnly, false);
    assert.equal(byPath['/ro']!.readOnly, true);
    assert.equal(byPath['/data']!.ufsUri, `file://${env.data}/`);
  });

  test('info of a file by its UFS-native URI and by its Alluxio path agree', async () => {
    const a = (await (await fetch(api('info', `file://${env.data}/dir/a.txt`))).json()) as any;
    const b = (await (await fetch(api('info', 'alluxio:///data/dir/a.txt'))).json()) as any;
    assert.equal(a.name, `file://${env.data}/dir/a.txt`);
    assert.equal(b.name, 'alluxio:///data/dir/a.txt');
    for (const d of [a, b]) {
      assert.equal(d.type, 'file');
      assert.equal(d.size, 'hello world, this is a.txt'.length);
      assert.equal(d.resolved.path, '/data/dir/a.txt');
      assert.equal(d.resolved.mount, '/data');
      assert.equal(d.resolved.ufsUri, `file://${env.data}/dir/a.txt`);
      assert.ok(d.mtime > 1e9);
    }
    const dir = (await (await fetch(api('info', `file://${env.data}/dir/`))).json()) as any;
    assert.equal(dir.type, 'directory');
    assert.equal(dir.name, `file://${env.data}/dir`);
  });

  test('listing with details; names come back as URIs in the form the client used', async () => {
    const res = await fetch(api('list', `file://${env.data}/dir`));
    assert.equal(res.status, 200);
    const doc = (await res.json()) as any;
    assert.deepEqual(
      doc.entries.map((e: any) => [e.name, e.type, e.size]),
      [
        [`file://${env.data}/dir/a.txt`, 'file', 26],
        [`file://${env.data}/dir/sub`, 'directory', 0],
      ],
    );
    const odd = (await (await fetch(api('list', `file://${env.data}`))).json()) as any;
    const oddName = odd.entries.find((e: any) => e.name.includes('space')).name as string;
    // raw names, as s3fs gives them (never percent-encoded; the client never decodes)
    assert.equal(oddName, `file://${env.data}/name with space+plus%.txt`);
    // the URI given back resolves to the same file
    const info = (await (await fetch(api('info', oddName))).json()) as any;
    assert.equal(info.size, 'odd name'.length);
    const al = (await (await fetch(api('list', 'alluxio:///data/dir'))).json()) as any;
    assert.deepEqual(al.entries.map((e: any) => e.name), ['alluxio:///data/dir/a.txt', 'alluxio:///data/dir/sub']);
  });

  test('the root lists the mounts as (virtual) directories', async () => {
    const doc = (await (await fetch(api('list', 'alluxio:///'))).json()) as any;
    assert.deepEqual(doc.entries.map((e: any) => [e.name, e.type]), [
      ['alluxio:///data', 'directory'],
      ['alluxio:///ro', 'directory'],
    ]);
  });

  test('a rewrite rule makes a virtual directory and applies to reads without a restart', async () => {
    const before = await fetch(api('info', 'alluxio:///data/latest/model.bin'));
    assert.equal(before.status, 404);
    const rev = await commit(env, ['path-mapping', 'add', '--id', 'latest', '--from', '/data/latest', '--to', '/data/v3']);
    const list = (await (await fetch(api('list', 'alluxio:///data'))).json()) as any;
    const latest = list.entries.find((e: any) => e.name === 'alluxio:///data/latest');
    assert.equal(latest?.type, 'directory');
    const inside = await fetch(api('list', `file://${env.data}/latest`));
    assert.equal(Number(inside.headers.get('x-alluxio-revision')), rev);
    assert.deepEqual(((await inside.json()) as any).entries.map((e: any) => e.name), [`file://${env.data}/latest/model.bin`]);
    const body = await fetch(api('file', `file://${env.data}/latest/model.bin`));
    assert.equal(await body.text(), 'model v3');
    const info = (await (await fetch(api('info', 'alluxio:///data/latest/model.bin'))).json()) as any;
    assert.equal(info.resolved.rule, 'latest');
    assert.equal(info.resolved.rewrittenPath, '/data/v3/model.bin');
    await commit(env, ['path-mapping', 'remove', '--id', 'latest', '--yes']);
    assert.equal((await fetch(api('info', 'alluxio:///data/latest/model.bin'))).status, 404);
  });

  test('a UFS-native URI is raw text, decoded once (the query string): "100%.csv" and "x%41.txt" are literal names, as for S3 and POSIX', async () => {
    mkdirSync(join(env.data, 'pct'), { recursive: true });
    writeFileSync(join(env.data, 'pct', '100%.csv'), 'hundred percent');
    writeFileSync(join(env.data, 'pct', 'x%41.txt'), 'literal x%41');
    writeFileSync(join(env.data, 'pct', 'xA.txt'), 'decoded xA');
    const s3Path: Record<string, string> = { '100%.csv': '/data/pct/100%25.csv', 'x%41.txt': '/data/pct/x%2541.txt' };
    for (const name of ['100%.csv', 'x%41.txt']) {
      const uri = `file://${env.data}/pct/${name}`;
      const res = await fetch(api('file', uri));
      assert.equal(res.status, 200, `${name}: ${res.status}`);
      const viaRest = await res.text();
      const posix = readFileSync(join(env.data, 'pct', name), 'utf8');
      assert.equal(viaRest, posix, name);
      // the S3 front end decodes its URL path once: the same key names the same file
      const s3 = await fetch(`${env.workers[0]!.s3Url}${s3Path[name]}`);
      assert.equal(s3.status, 200, `s3 ${name}`);
      assert.equal(await s3.text(), posix, `s3 ${name}`);
      const info = (await (await fetch(api('info', uri))).json()) as any;
      assert.equal(info.name, uri);
      assert.equal(info.resolved.path, `/data/pct/${name}`);
      assert.equal(info.resolved.ufsUri, `file://${env.data}/pct/${name.replaceAll('%', '%25')}`);
      const al = await fetch(api('file', `alluxio:///data/pct/${name}`));
      assert.equal(await al.text(), posix);
    }
    // the listing gives the raw names back, and each one reads the file it names
    const doc = (await (await fetch(api('list', `file://${env.data}/pct`))).json()) as any;
    const names = doc.entries.map((e: any) => e.name as string);
    assert.deepEqual(names, ['100%.csv', 'x%41.txt', 'xA.txt'].map((n) => `file://${env.data}/pct/${n}`));
    for (const n of names) assert.equal(await (await fetch(api('file', n))).text(), readFileSync(n.slice('file://'.length), 'utf8'));
  });

  test('resolve explains a resolution with its trace', async () => {
    const doc = (await (await fetch(api('resolve', `file://${env.data}/dir/a.txt`))).json()) as any;
    assert.equal(doc.path, '/data/dir/a.txt');
    assert.ok(Array.isArray(doc.trace) && doc.trace.some((s: any) => s.step === 'decode' && s.reverseMount === '/data'));
  });
});

describe('reads', () => {
  test('whole file, byte ranges, suffix ranges, HEAD', async () => {
    const uri = `file://${env.data}/big.bin`;
    const whole = await fetch(api('file', uri));
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(big));
    for (const [start, end] of [
      [0, 0],
      [10, 19],
      [1024 * 1024 - 3, 2 * 1024 * 1024 + 7],
      [big.length - 5, big.length - 1],
    ] as const) {
      const r = await fetch(api('file', uri), { headers: { range: `bytes=${start}-${end}` } });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${big.length}`);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(big.subarray(start, end + 1)), `range ${start}-${end}`);
    }
    const open = await fetch(api('file', uri), { headers: { range: `bytes=${big.length - 100}-` } });
    assert.ok(Buffer.from(await open.arrayBuffer()).equals(big.subarray(big.length - 100)));
    const past = await fetch(api('file', uri), { headers: { range: `bytes=${big.length - 10}-${big.length + 1000}` } });
    assert.equal(past.status, 206);
    assert.ok(Buffer.from(await past.arrayBuffer()).equals(big.subarray(big.length - 10)));
    const suffix = await fetch(api('file', uri), { headers: { range: 'bytes=-7' } });
    assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(big.subarray(big.length - 7)));
    const beyond = await fetch(api('file', uri), { headers: { range: `bytes=${big.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal((await errorOf(beyond)).code, 'InvalidRange');
    assert.equal(beyond.headers.get('content-range'), `bytes */${big.length}`);
    const head = await fetch(api('file', uri), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(big.length));
    const empty = await fetch(api('file', `file://${env.data}/empty`));
    assert.equal(empty.status, 200);
    assert.equal((await empty.arrayBuffer()).byteLength, 0);
    assert.equal((await fetch(api('file', `file://${env.data}/empty`), { headers: { range: 'bytes=0-' } })).status, 416);
    // a small file (served from one buffer of the one open file): ranges as for a big one
    const small = 'hello world, this is a.txt';
    const sr = await fetch(api('file', `file://${env.data}/dir/a.txt`), { headers: { range: 'bytes=6-10' } });
    assert.equal(sr.status, 206);
    assert.equal(sr.headers.get('content-range'), `bytes 6-10/${small.length}`);
    assert.equal(await sr.text(), small.slice(6, 11));
    const ss = await fetch(api('file', `file://${env.data}/dir/a.txt`), { headers: { range: 'bytes=-4' } });
    assert.equal(await ss.text(), small.slice(-4));
    const bad = await fetch(api('file', `file://${env.data}/dir/a.txt`), { headers: { range: 'bytes=9-3' } });
    assert.equal(bad.status, 200);
    assert.equal(await bad.text(), small);
  });

  test('a reader that stops reading holds the worker back (backpressure): it neither reads ahead nor buffers the file', async (t) => {
    // A 256 MiB sparse file (no disk cost) with known bytes at both ends.
    const size = 256 * 1024 * 1024;
    const file = join(env.data, 'huge-sparse.bin');
    const fd = openSync(file, 'w');
    try {
      ftruncateSync(fd, size);
      writeSync(fd, big, 0, big.length, 0);
      writeSync(fd, big, 0, big.length, size - big.length);
    } finally {
      closeSync(fd);
    }
    const expectAt = (off: number, chunk: Buffer): boolean => {
      for (let i = 0; i < chunk.length; ) {
        const o = off + i;
        if (o < big.length) {
          const n = Math.min(chunk.length - i, big.length - o);
          if (!chunk.subarray(i, i + n).equals(big.subarray(o, o + n))) return false;
          i += n;
        } else if (o >= size - big.length) {
          const n = chunk.length - i;
          const b = o - (size - big.length);
          if (!chunk.subarray(i, i + n).equals(big.subarray(b, b + n))) return false;
          i += n;
        } else {
          const n = Math.min(chunk.length - i, size - big.length - o);
          for (let k = i; k < i + n; k++) if (chunk[k] !== 0) return false;
          i += n;
        }
      }
      return true;
    };
    t.after(() => rmSync(file, { force: true }));
    const worker = env.workers[0]!;
    const read0 = bytesRead(worker.pid);
    const rss0 = residentBytes(worker.pid);
    const u = new URL(api('file', `file://${file}`));
    let received = 0;
    let mismatchAt = -1;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search }, resolve);
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(size));
    const finished = new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
    });
    // Take the first MiB, then stop reading (the client keeps the connection open).
    await new Promise<void>((resolve) => {
      const onData = (c: Buffer) => {
        if (mismatchAt < 0 && !expectAt(received, c)) mismatchAt = received;
        received += c.length;
        if (received >= 1024 * 1024) {
          res.pause();
          res.off('data', onData);
          resolve();
        }
      };
      res.on('data', onData);
    });
    // Once the worker has stopped reading (a worker without backpressure stops only when
    // it has read the whole file), it has read and holds a small part of it: socket
    // buffers and a few stream chunks, bounded generously at a quarter of the file.
    const readNow = await readingSettles(worker.pid);
    const rssNow = residentBytes(worker.pid);
    const readAhead = readNow - read0;
    const grown = rssNow - rss0;
    t.diagnostic(`client stalled after ${received} bytes: the worker read ${readAhead} bytes of ${size}; its RSS grew by ${grown} bytes`);
    assert.ok(readAhead < size / 4, `the worker read ${readAhead} of ${size} bytes for a client that stopped after ${received}`);
    assert.ok(grown < size / 4, `the worker's RSS grew by ${grown} bytes for a client that stopped after ${received}`);
    // The slow reader then gets the whole body, byte for byte.
    res.on('data', (c: Buffer) => {
      if (mismatchAt < 0 && !expectAt(received, c)) mismatchAt = received;
      received += c.length;
    });
    res.resume();
    await finished;
    assert.equal(received, size);
    assert.equal(mismatchAt, -1, `wrong bytes at offset ${mismatchAt}`);
  });
});

describe('writes', () => {
  test('PUT creates and replaces a file on a writable mount; the body streams to the UFS', async () => {
    const payload = randomBytes(2 * 1024 * 1024 + 1);
    const res = await fetch(api('file', 'alluxio:///data/new/dir/file.bin'), { method: 'PUT', body: payload });
    assert.equal(res.status, 201);
    const doc = (await res.json()) as any;
    assert.equal(doc.size, payload.length);
    assert.ok(readFileSync(join(env.data, 'new', 'dir', 'file.bin')).equals(payload));
    const again = await fetch(api('file', `file://${env.data}/new/dir/file.bin`), { method: 'PUT', body: 'short' });
    assert.equal(again.status, 201);
    assert.equal(readFileSync(join(env.data, 'new', 'dir', 'file.bin'), 'utf8'), 'short');
  });

  test('a declared x-amz-content-sha256 (auth off) is checked: a body that does not match is 400 and writes nothing', async () => {
    const body = Buffer.from('declared body');
    const hash = createHash('sha256').update(body).digest('hex');
    const bad = await fetch(api('file', 'alluxio:///data/declared.txt'), { method: 'PUT', body: Buffer.from('another body!'), headers: { 'x-amz-content-sha256': hash } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'XAmzContentSHA256Mismatch');
    assert.equal(existsSync(join(env.data, 'declared.txt')), false);
    const good = await fetch(api('file', 'alluxio:///data/declared.txt'), { method: 'PUT', body, headers: { 'x-amz-content-sha256': hash } });
    assert.equal(good.status, 201);
    assert.equal(readFileSync(join(env.data, 'declared.txt'), 'utf8'), 'declared body');
    rmSync(join(env.data, 'declared.txt'));
    // neither a hash nor one of AWS's keywords: refused before anything is written
    const odd = await fetch(api('file', 'alluxio:///data/declared.txt'), { method: 'PUT', body, headers: { 'x-amz-content-sha256': 'sha256-of-it' } });
    assert.equal(odd.status, 400);
    assert.equal(((await odd.json()) as { error: { code: string } }).error.code, 'InvalidArgument');
    assert.equal(existsSync(join(env.data, 'declared.txt')), false);
  });

  test('a read-only mount refuses PUT, DELETE and mkdir with 403 ReadOnlyMount and changes nothing', async () => {
    const put = await fetch(api('file', `file://${env.ro}/x.txt`), { method: 'PUT', body: 'nope' });
    assert.equal(put.status, 403);
    assert.equal((await errorOf(put)).code, 'ReadOnlyMount');
    assert.equal(existsSync(join(env.ro, 'x.txt')), false);
    const del = await fetch(api('file', 'alluxio:///ro/readme.txt'), { method: 'DELETE' });
    assert.equal(del.status, 403);
    assert.equal(readFileSync(join(env.ro, 'readme.txt'), 'utf8'), 'read only');
    const mk = await fetch(api('mkdir', 'alluxio:///ro/newdir'), { method: 'POST' });
    assert.equal(mk.status, 403);
    assert.equal(existsSync(join(env.ro, 'newdir')), false);
  });

  test('mkdir, delete, recursive delete, DirectoryNotEmpty', async () => {
    const mk = await fetch(api('mkdir', 'alluxio:///data/t/a/b'), { method: 'POST' });
    assert.equal(mk.status, 201);
    assert.equal(((await mk.json()) as any).type, 'directory');
    const again = await fetch(api('mkdir', 'alluxio:///data/t/a/b'), { method: 'POST' });
    assert.equal(again.status, 200);
    await fetch(api('file', 'alluxio:///data/t/a/b/f'), { method: 'PUT', body: 'x' });
    const onFile = await fetch(api('mkdir', 'alluxio:///data/t/a/b/f'), { method: 'POST' });
    assert.equal(onFile.status, 409);
    assert.equal((await errorOf(onFile)).code, 'NotADirectory');
    const notEmpty = await fetch(api('file', 'alluxio:///data/t'), { method: 'DELETE' });
    assert.equal(notEmpty.status, 409);
    assert.equal((await errorOf(notEmpty)).code, 'DirectoryNotEmpty');
    const rmFile = await fetch(api('file', 'alluxio:///data/t/a/b/f'), { method: 'DELETE' });
    assert.equal(rmFile.status, 200);
    assert.equal(existsSync(join(env.data, 't', 'a', 'b', 'f')), false);
    await fetch(api('file', 'alluxio:///data/t/a/g'), { method: 'PUT', body: 'y' });
    const rec = await fetch(api('file', `file://${env.data}/t`, { recursive: 'true' }), { method: 'DELETE' });
    assert.equal(rec.status, 200);
    assert.equal(((await rec.json()) as any).deleted, 4);
    assert.equal(existsSync(join(env.data, 't')), false);
    const gone = await fetch(api('file', 'alluxio:///data/t'), { method: 'DELETE' });
    assert.equal(gone.status, 404);
    // A mount root is refused before anything below it is deleted (the fsspec probe of
    // 2026-12-02: fs.rm('/data', recursive=True) emptied the mount, then answered 409)
    const before = readdirSync(env.data).sort();
    assert.ok(before.length > 0);
    for (const recursive of ['true', 'false']) {
      const root = await fetch(api('file', 'alluxio:///data', { recursive }), { method: 'DELETE' });
      assert.equal(root.status, 409);
      const err = await errorOf(root);
      assert.equal(err.code, 'IsADirectory');
      assert.match(err.message, /\/data is the root of mount \/data, which cannot be deleted; nothing was deleted/);
      assert.deepEqual(readdirSync(env.data).sort(), before);
    }
  });

  test('a recursive delete removes the resolved tree only: a rule covering a child does not send the delete elsewhere', async () => {
    mkdirSync(join(env.data, 'rt', 'inner'), { recursive: true });
    writeFileSync(join(env.data, 'rt', 'inner', 'f'), 'in the tree');
    writeFileSync(join(env.data, 'rt', 'g'), 'in the tree');
    mkdirSync(join(env.data, 'elsewhere'), { recursive: true });
    writeFileSync(join(env.data, 'elsewhere', 'keep'), 'another tree');
    await commit(env, ['path-mapping', 'add', '--id', 'rt-inner', '--from', '/data/rt/inner', '--to', '/data/elsewhere']);
    try {
      const rec = await fetch(api('file', 'alluxio:///data/rt', { recursive: 'true' }), { method: 'DELETE' });
      assert.equal(rec.status, 200, await rec.clone().text());
      assert.equal(((await rec.json()) as any).deleted, 4); // rt/inner/f, rt/inner, rt/g, rt
      assert.equal(existsSync(join(env.data, 'rt')), false);
      assert.equal(readFileSync(join(env.data, 'elsewhere', 'keep'), 'utf8'), 'another tree');
    } finally {
      await commit(env, ['path-mapping', 'remove', '--id', 'rt-inner', '--yes']);
    }
  });
});

describe('errors', () => {
  test('not found, no mount, directory/file confusion, bad requests', async () => {
    const cases: [string, RequestInit, string, number, string][] = [
      ['info', {}, `file://${env.data}/missing`, 404, 'NotFound'],
      ['file', {}, `file://${env.data}/missing`, 404, 'NotFound'],
      ['info', {}, 'file:///etc/passwd', 404, 'NoMountForUri'],
      ['info', {}, 's3://some-bucket/key', 404, 'NoMountForUri'],
      ['info', {}, 'alluxio:///nomount/x', 404, 'NoMountForPath'],
      ['file', {}, `file://${env.data}/dir`, 409, 'IsADirectory'],
      ['list', {}, `file://${env.data}/dir/a.txt`, 409, 'NotADirectory'],
      ['file', { method: 'PUT', body: 'x' }, `file://${env.data}/dir`, 409, 'IsADirectory'],
      ['info', {}, 'not a uri', 400, 'InvalidPath'],
      ['info', {}, 'ftp://host/x', 400, 'InvalidPath'],
    ];
    for (const [ep, init, uri, status, code] of cases) {
      const res = await fetch(api(ep, uri), init);
      assert.equal(res.status, status, `${ep} ${uri}`);
      assert.equal((await errorOf(res)).code, code, `${ep} ${uri}`);
    }
    const noUri = await fetch(`${base}/api/v1/info`);
    assert.equal(noUri.status, 400);
    assert.equal((await errorOf(noUri)).code, 'InvalidArgument');
    const method = await fetch(api('list', 'alluxio:///data'), { method: 'DELETE' });
    assert.equal(method.status, 405);
    assert.equal((await errorOf(method)).code, 'MethodNotAllowed');
    assert.equal((await fetch(`${base}/api/v1/nope`)).status, 404);
  });

  test('paths that try to leave a mount fail with 400 InvalidPath, percent signs are literal names, nothing reaches the outside', async () => {
    const escapes = [
      `file://${env.data}/../outside/secret`,
      `file://${env.data}/dir/../../outside/secret`,
      `file://${env.data}/./dir/a.txt`,
      'alluxio:///data/../outside/secret',
      '/data/../../outside/secret',
      'alluxio:///data/./dir/a.txt',
    ];
    for (const uri of escapes) {
      for (const ep of ['info', 'file', 'list']) {
        const res = await fetch(api(ep, uri));
        assert.equal(res.status, 400, `${ep} ${uri}`);
        assert.equal((await errorOf(res)).code, 'InvalidPath', `${ep} ${uri}`);
      }
      const put = await fetch(api('file', uri), { method: 'PUT', body: 'overwrite' });
      assert.equal(put.status, 400, `PUT ${uri}`);
    }
    // Percent signs left after the query string's one decoding are characters of a name,
    // for alluxio paths and UFS URIs alike: "%2e%2e" and "..%2F" are literal names INSIDE
    // the mount (not found; a PUT creates exactly that name there).
    const literal = [
      `file://${env.data}/%2e%2e/outside/secret`,
      `file://${env.data}/%2E%2E/outside/secret`,
      `file://${env.data}/..%2Foutside%2Fsecret`,
      `file://${env.data}/dir/%2F..%2F..%2Foutside/secret`,
      'alluxio:///data/%2e%2e/outside/secret',
    ];
    for (const uri of literal) {
      for (const ep of ['info', 'file', 'list']) {
        const res = await fetch(api(ep, uri));
        assert.equal(res.status, 404, `${ep} ${uri}`);
      }
    }
    const dbl = await rawGet(`/api/v1/file?uri=${encodeURIComponent('alluxio:///data/%2e%2e/outside/secret')}`);
    assert.equal(dbl.status, 404);
    const raw = await rawGet(`/api/v1/file?uri=file://${env.data}/%252e%252e/outside/secret`);
    assert.equal(raw.status, 404);
    const put = await fetch(api('file', `file://${env.data}/..%2Foutside%2Fsecret`), { method: 'PUT', body: 'inside' });
    assert.equal(put.status, 201);
    assert.equal(readFileSync(join(env.data, '..%2Foutside%2Fsecret'), 'utf8'), 'inside');
    assert.equal((await fetch(api('file', `file://${env.data}/..%2Foutside%2Fsecret`), { method: 'DELETE' })).status, 200);
    assert.equal(readFileSync(join(env.outside, 'secret'), 'utf8'), 'top secret');
  });
});

test('worker placement: the TypeScript and Python rendezvous functions agree', async () => {
  const workers = ['10.0.0.5:28080', '10.0.0.6:28080', '10.0.0.7:28080', 'host-a:1', 'host-b:2'];
  const keys = ['s3://bucket/data/x', 'alluxio:///data/é/ü', 'file:///srv/a b', '', 'k'.repeat(300)];
  const r = await python(['-c', `import json,sys; from alluxiofs.placement import placement_order; ws=${JSON.stringify(workers)}; ks=json.loads(sys.argv[1]); print(json.dumps([placement_order(ws,k) for k in ks]))`, JSON.stringify(keys)]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json(), keys.map((k) => placementOrder(workers, k)));
  // spreads: not every key lands on the same worker
  const firsts = new Set(Array.from({ length: 50 }, (_, i) => placementOrder(workers, `s3://b/k${i}`)[0]));
  assert.ok(firsts.size >= 3);
});

// Last: stops etcd.
test('a worker whose config is older than --max-staleness answers 503 EtcdUnavailable; the Python client moves on', async () => {
  let stale: WorkerProcess | undefined;
  try {
    stale = await startWorker(env.etcd.endpoint, { maxStaleness: '1s' });
    const uri = `file://${env.data}/dir/a.txt`;
    assert.equal((await fetch(`${stale.restUrl}/api/v1/info?uri=${encodeURIComponent(uri)}`)).status, 200);
    await env.etcd.stop();
    const deadline = Date.now() + 30_000;
    let res: Response | undefined;
    while (Date.now() < deadline) {
      res = await fetch(`${stale.restUrl}/api/v1/info?uri=${encodeURIComponent(uri)}`);
      if (res.status === 503) break;
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(res?.status, 503);
    assert.equal((await errorOf(res!)).code, 'EtcdUnavailable');
    // the worker without --max-staleness keeps serving its last good config
    assert.equal((await fetch(api('info', uri))).status, 200);
    // the client: a file the stale worker comes first for; the answer comes from the other one
    const staleName = `127.0.0.1:${stale.restPort}`;
    const names = [staleName, `127.0.0.1:${env.workers[0]!.restPort}`];
    // (among 256 names one is placed on the stale worker first but for odds of 2^-256; a
    // fixed handful of existing files missed it about once in 128 runs, by the ports drawn)
    const i = Array.from({ length: 256 }, (_, k) => k).find((k) => placementOrder(names, `file://${env.data}/placed/f${k}`)[0] === staleName);
    assert.ok(i !== undefined, 'some path is placed on the stale worker first');
    mkdirSync(join(env.data, 'placed'), { recursive: true });
    writeFileSync(join(env.data, 'placed', `f${i}`), 'placed');
    const target = `file://${env.data}/placed/f${i}`;
    const r = await python(['-c', `
import fsspec, alluxiofs, json, sys
fs = fsspec.filesystem("alluxiofs", worker_hosts=sys.argv[1])
print(json.dumps({"type": fs.info(sys.argv[2])["type"]}))
`, workerHosts([stale, env.workers[0]!]), target]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().type, 'file');
    assert.match(r.stderr, new RegExp(`worker ${staleName} is unavailable \\(.*EtcdUnavailable`));
  } finally {
    await stale?.stop();
  }
});
