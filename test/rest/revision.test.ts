/**
 * One revision for one config (resolution.md §6): `alluxio resolve --json` and the worker's
 * REST `resolved.revision` both report the CONFIG revision, the etcd revision of the last
 * change to mounts or rules, which does not move when membership or any other key outside
 * the config is written. Real etcd, a real worker process, the real CLI and etcdctl.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { etcdctl } from '../helpers/etcdctl.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';

describe('the config revision is reported alike by resolve --json and the REST API', () => {
  let etcd: TestEtcd;
  let dir: string;
  let cli: ReturnType<typeof cliFor>;
  const workers: WorkerProcess[] = [];

  const ok = async (args: string[]) => {
    const r = await cli(args);
    assert.equal(r.code, 0, `alluxio ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  };
  const etcdRevision = () => Number((JSON.parse(etcdctl(etcd.endpoint, 'get', '/', '--prefix', '--keys-only', '--limit', '1', '-w', 'json')) as { header: { revision: string | number } }).header.revision);
  const restRevision = async (w: WorkerProcess, uri: string) => {
    const res = await fetch(`${w.restUrl}/api/v1/info?${new URLSearchParams({ uri })}`);
    const doc = (await res.json()) as { resolved?: { revision: number } };
    assert.equal(res.status, 200, JSON.stringify(doc));
    return { header: Number(res.headers.get('x-alluxio-revision')), resolved: doc.resolved!.revision };
  };

  before(async () => {
    etcd = await startTestEtcd();
    cli = cliFor(etcd.endpoint, 'revs');
    dir = mkdtempSync(join(tmpdir(), 'alluxio-test-revs-'));
    mkdirSync(join(dir, 'v3'), { recursive: true });
    writeFileSync(join(dir, 'v3', 'm.bin'), 'model');
    await ok(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${dir}/`]);
    workers.push(await startWorker(etcd.endpoint, { cluster: 'revs' }));
  });

  after(async () => {
    try {
      await Promise.all(workers.map((w) => w.stop()));
    } finally {
      await etcd?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after a config change and later writes outside the config, both report the config change', async () => {
    const change = (await ok(['path-mapping', 'add', '--id', 'latest', '--from', '/data/latest', '--to', '/data/v3', '--json'])).json() as { revision: number };
    await workers[0]!.waitForRevision(change.revision);
    // Writes that are not config: the worker's own membership updates, and an unrelated key.
    etcdctl(etcd.endpoint, 'put', '/unrelated/key', 'x');
    assert.ok(etcdRevision() > change.revision, "etcd's revision moved past the config change");

    const cliDoc = (await ok(['resolve', '/data/latest/m.bin', '--json'])).json() as { revision: number; ufsUri: string };
    assert.equal(cliDoc.ufsUri, `file://${dir}/v3/m.bin`);
    assert.equal(cliDoc.revision, change.revision, 'resolve --json reports the config revision, not the read revision');
    const rest = await restRevision(workers[0]!, 'alluxio:///data/latest/m.bin');
    assert.equal(rest.resolved, cliDoc.revision, 'REST resolved.revision agrees with resolve --json');
    assert.equal(rest.header, cliDoc.revision);
  });

  it(
    'a worker started after writes outside the config reports the config revision too',
    async () => {
      etcdctl(etcd.endpoint, 'put', '/unrelated/key', 'y');
      const w = await startWorker(etcd.endpoint, { cluster: 'revs' });
      workers.push(w);
      const cliDoc = (await ok(['resolve', '/data/latest/m.bin', '--json'])).json() as { revision: number };
      assert.equal((await restRevision(w, 'alluxio:///data/latest/m.bin')).resolved, cliDoc.revision);
    },
  );
});
