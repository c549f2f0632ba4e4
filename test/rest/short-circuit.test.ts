/**
 * The worker's short-circuit grant (docs/rest-api.md, "Short-circuit reads"):
 * GET /api/v1/info?uri=U&shortCircuit=true names the local file of a file:// mount, with
 * its identity, only to a peer on the worker's host, only for a regular file the file
 * adapter proves inside the mount, and never to a request forwarded by a proxy.
 * Real worker process and etcd.
 */
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { canonicalAddress, isLocalAddress } from '../../src/frontends/rest/local-peer.js';
import { startFsEnv, type FsEnv } from '../fsspec/env.js';

let env: FsEnv;
let base: string;

async function info(uri: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<{ status: number; doc: any }> {
  const q = new URLSearchParams({ uri, ...extra });
  const res = await fetch(`${base}/api/v1/info?${q.toString()}`, { headers });
  return { status: res.status, doc: await res.json() };
}

before(async () => {
  env = await startFsEnv();
  base = env.workers[0]!.restUrl;
  mkdirSync(join(env.data, 'g', 'dir'), { recursive: true });
  writeFileSync(join(env.data, 'g', 'file.bin'), 'granted bytes');
  writeFileSync(join(env.data, 'g', 'dir', 'real.txt'), 'behind a link');
  symlinkSync(join(env.data, 'g', 'dir', 'real.txt'), join(env.data, 'g', 'inside-link'));
  symlinkSync(join(env.outside, 'secret'), join(env.data, 'g', 'outside-link'));
});

after(async () => {
  await env?.destroy();
});

function identity(p: string): Record<string, unknown> {
  const st = statSync(p, { bigint: true });
  return { size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), ino: String(st.ino), dev: String(st.dev) };
}

test('a loopback peer asking with shortCircuit=true gets the real local path and the identity', async () => {
  const file = join(env.data, 'g', 'file.bin');
  for (const uri of [`file://${file}`, 'alluxio:///data/g/file.bin']) {
    const { status, doc } = await info(uri, { shortCircuit: 'true' });
    assert.equal(status, 200);
    assert.equal(doc.type, 'file');
    assert.equal(doc.localPath, realpathSync(file));
    assert.deepEqual(doc.local, identity(file));
    assert.equal(doc.size, doc.local.size);
  }
  // a read-only mount is readable, so it is granted too
  const ro = await info('alluxio:///ro/readme.txt', { shortCircuit: 'true' });
  assert.equal(ro.doc.localPath, realpathSync(join(env.ro, 'readme.txt')));
});

test('without shortCircuit=true, info is unchanged (no local fields)', async () => {
  const { doc } = await info('alluxio:///data/g/file.bin');
  assert.ok(!('localPath' in doc) && !('local' in doc) && !('localReason' in doc), JSON.stringify(doc));
});

test('directories and virtual directories get no grant', async () => {
  for (const uri of ['alluxio:///data/g/dir', 'alluxio:///data', 'alluxio:///']) {
    const { status, doc } = await info(uri, { shortCircuit: 'true' });
    assert.equal(status, 200);
    assert.equal(doc.type, 'directory');
    assert.ok(!('localPath' in doc), JSON.stringify(doc));
  }
});

test('a symlink inside the mount is granted as its real target; one leading outside is not found', async () => {
  const inside = await info('alluxio:///data/g/inside-link', { shortCircuit: 'true' });
  assert.equal(inside.status, 200);
  assert.equal(inside.doc.localPath, realpathSync(join(env.data, 'g', 'dir', 'real.txt')));
  const outside = await info('alluxio:///data/g/outside-link', { shortCircuit: 'true' });
  assert.equal(outside.status, 404);
  assert.equal(outside.doc.error.code, 'NotFound');
  assert.ok(!JSON.stringify(outside.doc).includes(env.outside));
});

test('a request forwarded by a proxy is never local: no path, a reason', async () => {
  const proxied: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7' }, { 'x-real-ip': '203.0.113.7' }];
  for (const h of proxied) {
    const { status, doc } = await info('alluxio:///data/g/file.bin', { shortCircuit: 'true' }, h);
    assert.equal(status, 200);
    assert.equal(doc.localPath, null);
    assert.ok(!('local' in doc));
    assert.match(doc.localReason, /not on the worker's host/);
  }
});

test("local addresses: loopback and this host's interfaces are local, others are not", () => {
  for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) assert.equal(isLocalAddress(a), true, a);
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      assert.equal(isLocalAddress(i.address), true, i.address);
      if (i.family === 'IPv4') assert.equal(isLocalAddress(`::ffff:${i.address}`), true, i.address);
    }
  }
  const own = new Set(Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => canonicalAddress(i.address))));
  for (const a of ['203.0.113.7', '::ffff:198.51.100.1', '2001:db8::1', '', undefined]) {
    if (a && own.has(canonicalAddress(a))) continue; // (not on a machine that owns a documentation address)
    assert.equal(isLocalAddress(a), false, String(a));
  }
  assert.equal(canonicalAddress('FE80::1%eth0'), 'fe80::1');
});
