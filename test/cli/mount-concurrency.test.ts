/**
 * Admins racing each other through the real CLI: every write is one etcd transaction
 * validated against exactly the state it read, so concurrent adds of different mounts all
 * land, and concurrent mounts of the same UFS URI commit exactly one. What ends up in etcd
 * is readable with plain etcdctl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { until } from '../helpers/poll.js';

const execFileP = promisify(execFile);
let etcd: TestEtcd;

before(async () => {
  etcd = await startTestEtcd();
});
after(async () => {
  await etcd?.destroy();
});

/** Client-side TCP connections to etcd's client port in state ESTABLISHED (from /proc/net/tcp), by local address. */
function connectionsToEtcd(): Set<string> {
  const hexPort = etcd.clientPort.toString(16).toUpperCase().padStart(4, '0');
  const out = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 3 && f[2]!.endsWith(`:${hexPort}`) && f[3] === '01') out.add(f[1]!);
  }
  return out;
}

/**
 * A start barrier, so the race is a real race and not processes that happen to start one
 * after the other: etcd is paused (SIGSTOP), all CLIs are started and connect (the kernel
 * accepts for a stopped process), and once every one of them is connected etcd resumes and
 * receives all their reads at once. Polls with a deadline; resumes etcd whatever happens.
 */
async function race<T>(n: number, start: () => Promise<T>[]): Promise<T[]> {
  const baseline = connectionsToEtcd();
  const fresh = () => [...connectionsToEtcd()].filter((c) => !baseline.has(c)).length;
  process.kill(etcd.pid, 'SIGSTOP');
  let running: Promise<T>[] = [];
  try {
    running = start();
    await until(`all ${n} commands to connect to the stopped etcd`, () => fresh() >= n, 60_000, 25);
  } finally {
    process.kill(etcd.pid, 'SIGCONT');
  }
  return Promise.all(running);
}

async function etcdctlGetPrefix(prefix: string): Promise<Map<string, string>> {
  const { stdout } = await execFileP('etcdctl', ['--endpoints', etcd.endpoint, 'get', '--prefix', prefix, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  const doc = JSON.parse(stdout) as { kvs?: { key: string; value: string }[] };
  const out = new Map<string, string>();
  for (const kv of doc.kvs ?? []) out.set(Buffer.from(kv.key, 'base64').toString('utf8'), Buffer.from(kv.value, 'base64').toString('utf8'));
  return out;
}

describe('concurrent admins', () => {
  it('20 processes adding different mounts at once: all succeed, all 20 listed, 20 distinct revisions', async () => {
    const cli = cliFor(etcd.endpoint, 'race-many');
    const results = await race(20, () =>
      Array.from({ length: 20 }, (_, i) => cli(['mount', 'add', '--path', `/m${i}`, '--ufs-uri', `s3://race-bucket/m${i}/`, '--option', `token=t${i}`, '--etcd-timeout', '60s', '--json'], { timeoutMs: 120_000 })),
    );
    results.forEach((r, i) => assert.equal(r.code, 0, `admin ${i}: exit ${r.code}\n${r.stdout}\n${r.stderr}`));
    const revisions = results.map((r) => r.json().revision as number);
    assert.equal(new Set(revisions).size, 20, `each add committed its own revision: ${revisions.join(',')}`);
    const list = await cli(['mount', 'list', '--json', '--show-secrets']);
    assert.equal(list.code, 0, list.stderr);
    const doc = list.json();
    assert.equal(doc.mounts.length, 20);
    assert.deepEqual(
      doc.mounts.map((m: { path: string }) => m.path).sort(),
      Array.from({ length: 20 }, (_, i) => `/m${i}`).sort(),
    );
    for (const m of doc.mounts) assert.equal(m.options.token, `t${m.path.slice(2)}`, 'each mount kept its own options');
    assert.equal(doc.revision, Math.max(...revisions), 'nothing else was written after the last add');
  });

  it('10 processes mounting the same UFS URI under different paths: exactly one wins, the rest exit 3', async () => {
    const cli = cliFor(etcd.endpoint, 'race-one');
    const results = await race(10, () =>
      Array.from({ length: 10 }, (_, i) => cli(['mount', 'add', '--path', `/same${i}`, '--ufs-uri', 's3://race-bucket/shared/', '--etcd-timeout', '60s', '--json'], { timeoutMs: 120_000 })),
    );
    const codes = results.map((r) => r.code);
    const winners = codes.filter((c) => c === 0).length;
    assert.equal(winners, 1, `exit codes: ${codes.join(',')}\n${results.map((r) => r.stdout + r.stderr).join('\n')}`);
    for (const r of results) {
      if (r.code === 0) continue;
      assert.equal(r.code, 3, r.stdout + r.stderr);
      assert.equal(r.json().error.code, 'MountNested');
      assert.match(r.json().error.message, /s3:\/\/race-bucket\/shared\/ is already mounted at \/same\d/);
    }
    const winner = results.findIndex((r) => r.code === 0);
    const list = (await cli(['mount', 'list', '--json'])).json();
    assert.deepEqual(list.mounts, [{ path: `/same${winner}`, ufsUri: 's3://race-bucket/shared/', readOnly: false, options: {} }]);
  });

  it('10 processes racing for nesting URIs (parent vs children): the table never holds a nested pair', async () => {
    const cli = cliFor(etcd.endpoint, 'race-nest');
    const uris = ['s3://race-bucket/t/', ...Array.from({ length: 9 }, (_, i) => `s3://race-bucket/t/c${i}/`)];
    const results = await race(10, () => uris.map((u, i) => cli(['mount', 'add', '--path', `/n${i}`, '--ufs-uri', u, '--etcd-timeout', '60s', '--json'], { timeoutMs: 120_000 })));
    for (const r of results) assert.ok(r.code === 0 || r.code === 3, `exit ${r.code}: ${r.stdout}${r.stderr}`);
    const mounted = (await cli(['mount', 'list', '--json'])).json().mounts.map((m: { ufsUri: string }) => m.ufsUri) as string[];
    assert.equal(mounted.length, results.filter((r) => r.code === 0).length);
    const parentWon = mounted.includes('s3://race-bucket/t/');
    // Either the parent alone, or any set of children without the parent.
    if (parentWon) assert.deepEqual(mounted, ['s3://race-bucket/t/']);
    else assert.ok(mounted.length >= 1 && mounted.every((u) => /\/t\/c\d\/$/.test(u)), mounted.join(','));
  });

  it('etcdctl reads the layout: schema-version key, generation, JSON values', async () => {
    const kvs = await etcdctlGetPrefix('/alluxio/');
    for (const cluster of ['race-many', 'race-one', 'race-nest']) {
      const schema = kvs.get(`/alluxio/${cluster}/schema-version`);
      assert.ok(schema, `schema-version key for ${cluster}`);
      assert.deepEqual(JSON.parse(schema), { version: 1 });
      const gen = JSON.parse(kvs.get(`/alluxio/${cluster}/config/generation`)!);
      assert.equal(typeof gen.generation, 'number');
      assert.ok(gen.generation >= 1);
      assert.ok(!Number.isNaN(Date.parse(gen.updatedAt)));
    }
    assert.equal(JSON.parse(kvs.get('/alluxio/race-many/config/generation')!).generation, 20, 'one generation per committed write');
    const mountKeys = [...kvs.keys()].filter((k) => k.startsWith('/alluxio/race-many/config/mounts/'));
    assert.equal(mountKeys.length, 20);
    for (const k of mountKeys) {
      const v = JSON.parse(kvs.get(k)!);
      assert.deepEqual(Object.keys(v).sort(), ['options', 'path', 'readOnly', 'ufsUri']);
      assert.equal(k, `/alluxio/race-many/config/mounts/${v.path.slice(1)}`);
      assert.match(v.ufsUri, /^s3:\/\/race-bucket\/m\d+\/$/);
    }
    // Everything the CLI wrote is JSON.
    for (const [k, v] of kvs) assert.doesNotThrow(() => JSON.parse(v), `value of ${k} is JSON`);
  });
});
