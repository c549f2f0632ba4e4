/**
 * src/local/cluster.ts (`alluxio local start`): a worker whose port was found free and then
 * taken by another process before the worker bound it is started again, on the ports its
 * bases give it except the taken one (the race forced: the port is taken as the worker is
 * spawned, which it cannot bind before its process has started).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCluster, stopLocalCluster } from '../../src/local/cluster.js';
import { freePort } from '../../src/local/etcd-server.js';

test('a worker port taken between its pick and its bind: the worker starts again, keeping the ports its bases give', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-local-'));
  const [etcdPort, s3Base, restBase] = [await freePort(), await freePort(), await freePort()];
  let thief: Promise<Server> | undefined;
  try {
    const state = await startLocalCluster({
      dir,
      workers: 1,
      cluster: `race${process.pid}`,
      etcdPort,
      s3PortBase: s3Base,
      restPortBase: restBase,
      cacheSize: '0',
      onProgress: (m) => {
        if (!thief && m.startsWith('started worker-1 ')) {
          thief = new Promise((resolve, reject) => {
            const s = createServer();
            s.once('error', reject);
            s.listen(s3Base, '127.0.0.1', () => resolve(s));
          });
        }
      },
    });
    await thief; // (it bound the port: else the worker had it and this rejected)
    const w = state.workers[0]!;
    assert.match(readFileSync(w.log, 'utf8'), new RegExp(`port ${s3Base} on 127\\.0\\.0\\.1 is already in use`), 'the first start lost its S3 port');
    assert.notEqual(w.s3Port, s3Base, 'the taken port was replaced');
    assert.equal(w.restPort, restBase, 'the REST port its base gives is kept');
    const ready = await fetch(`http://127.0.0.1:${w.restPort}/readyz`);
    assert.equal(ready.status, 200);
  } finally {
    await stopLocalCluster(dir).catch(() => undefined);
    (await thief?.catch(() => undefined))?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
