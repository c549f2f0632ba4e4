/**
 * Large `path-mapping import`s stay all-or-nothing: one transaction with one operation per
 * rule. etcd refuses transactions above --max-txn-ops (default 128): the test etcd (like
 * `alluxio local start`) runs with --max-txn-ops 10000, and the CLI refuses, before sending,
 * a transaction above ALLUXIO_ETCD_MAX_TXN_OPS (when set) with TooManyChanges (exit 2).
 * When the client limit is raised but etcd's is not, etcd's INVALID_ARGUMENT is reported as
 * the same clear exit-2 error, never as "etcd is unreachable" (exit 5). Nothing is written
 * in either refusal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Etcd3 } from 'etcd3';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';

const requireCjs = createRequire(import.meta.url);
let big: TestEtcd; // --max-txn-ops 10000 (the helper's default)
let small: TestEtcd; // etcd's default 128
let dir: string;

before(async () => {
  [big, small] = await Promise.all([startTestEtcd(), startTestEtcd({ maxTxnOps: 128 })]);
  dir = mkdtempSync(join(tmpdir(), 'alluxio-test-import-large-'));
});
after(async () => {
  await Promise.all([big?.destroy(), small?.destroy()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function ruleFile(n: number, padding = ''): string {
  const rules = Array.from({ length: n }, (_, i) => ({ src: `^/t${i}/(.*)$`, dst: `/model/t${i}${padding}/{{ var1 }}` }));
  const path = join(dir, `rules-${n}.json`);
  writeFileSync(path, JSON.stringify({ rules }));
  return path;
}

async function ruleKeys(endpoint: string, cluster: string): Promise<{ key: string; modRevision: number }[]> {
  const { Etcd3 } = requireCjs('etcd3') as typeof import('etcd3');
  const client: Etcd3 = new Etcd3({ hosts: endpoint });
  try {
    const res = await client.getAll().prefix(`/alluxio/${cluster}/`).exec();
    return res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), modRevision: Number(kv.mod_revision) })).filter((kv) => kv.key.includes('/rules/'));
  } finally {
    client.close();
  }
}

describe('path-mapping import of many rules', () => {
  it('imports 300 rules in ONE revision when etcd and the CLI allow it', async () => {
    const cli = cliFor(big.endpoint, 'large1');
    assert.equal((await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/'])).code, 0);
    const r = await cli(['path-mapping', 'import', ruleFile(300), '--json'], { env: { ALLUXIO_ETCD_MAX_TXN_OPS: undefined } });
    assert.equal(r.code, 0, r.stderr);
    const doc = r.json();
    assert.equal(doc.rules.length, 300);
    const keys = await ruleKeys(big.endpoint, 'large1');
    assert.equal(keys.length, 300);
    assert.deepEqual([...new Set(keys.map((k) => k.modRevision))], [doc.revision], 'every rule written by the one import transaction');
    const t = await cli(['path-mapping', 'test', '/t299/a.csv', '--json']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.json().ufsUri, 's3://models/m/t299/a.csv');
  });

  it('refuses (exit 2, TooManyChanges) before sending when the import exceeds ALLUXIO_ETCD_MAX_TXN_OPS; writes nothing', async () => {
    const cli = cliFor(big.endpoint, 'large2');
    assert.equal((await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/'])).code, 0);
    const r = await cli(['path-mapping', 'import', ruleFile(200), '--json'], { env: { ALLUXIO_ETCD_MAX_TXN_OPS: '128' } });
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /unreachable/);
    assert.match(r.stdout + r.stderr, /203 etcd operations/);
    assert.match(r.stdout + r.stderr, /--max-txn-ops/);
    assert.match(r.stdout + r.stderr, /ALLUXIO_ETCD_MAX_TXN_OPS/);
    assert.equal((await ruleKeys(big.endpoint, 'large2')).length, 0);
    // The same file in smaller parts would do; 120 rules fit under 128.
    assert.equal((await cli(['path-mapping', 'import', ruleFile(120)], { env: { ALLUXIO_ETCD_MAX_TXN_OPS: '128' } })).code, 0);
    assert.equal((await ruleKeys(big.endpoint, 'large2')).length, 120);
  });

  it("against an etcd with the default --max-txn-ops 128, a 200-rule import fails with a clear exit-2 error (not 'unreachable', not 5) and writes nothing", async () => {
    const cli = cliFor(small.endpoint, 'large3');
    assert.equal((await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/'])).code, 0);
    // The client is told etcd allows more than it does: etcd itself refuses the transaction.
    const r = await cli(['path-mapping', 'import', ruleFile(200), '--json'], { env: { ALLUXIO_ETCD_MAX_TXN_OPS: '10000' } });
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /unreachable/);
    assert.match(r.stdout + r.stderr, /--max-txn-ops/);
    assert.equal((await ruleKeys(small.endpoint, 'large3')).length, 0);
    // And with the default client limit it is refused before sending, the same way.
    const d = await cli(['path-mapping', 'import', ruleFile(200)], { env: { ALLUXIO_ETCD_MAX_TXN_OPS: undefined } });
    assert.equal(d.code, 2, d.stderr);
    assert.equal((await ruleKeys(small.endpoint, 'large3')).length, 0);
  });

  it("an import within --max-txn-ops but larger than etcd's --max-request-bytes (1.5 MiB) fails with a clear exit-2 error and writes nothing", async () => {
    // (the CLI probe of 2026-12-02: 6,000 rules, EtcdRejected "request is too large", exit 1)
    const cli = cliFor(big.endpoint, 'large4');
    assert.equal((await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/'])).code, 0);
    const r = await cli(['path-mapping', 'import', ruleFile(6000, '/some/long/target/path/padding-padding-padding'), '--json'], { env: { ALLUXIO_ETCD_MAX_TXN_OPS: undefined } });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.json().error.code, 'TooManyChanges');
    assert.match(r.stdout, /--max-request-bytes/);
    // far larger (over the limit + 512 KiB, where gRPC refuses it before etcd does): the same
    const pad = '/some/long/target/path/padding-padding-padding'.repeat(6);
    const huge = await cli(['path-mapping', 'import', ruleFile(6000, pad), '--json'], { env: { ALLUXIO_ETCD_MAX_TXN_OPS: undefined } });
    assert.equal(huge.code, 2, huge.stdout + huge.stderr);
    assert.equal(huge.json().error.code, 'TooManyChanges');
    assert.equal((await ruleKeys(big.endpoint, 'large4')).length, 0);
  });
});
