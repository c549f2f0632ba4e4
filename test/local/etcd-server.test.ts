/**
 * src/local/etcd-server.ts with a real etcd: an etcd that cannot start says why (its log's
 * last line), and a port taken between picking it and etcd binding it is picked again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEtcdServer } from '../../src/local/etcd-server.js';
import { AlluxioError } from '../../src/domain/errors.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

test('a client port that is taken: EtcdUnavailable naming the cause from etcd\'s log, nothing left running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-etcdsrv-'));
  const taken = await listen(await freePort());
  try {
    const port = (taken.address() as { port: number }).port;
    await assert.rejects(
      startEtcdServer({ dataDir: join(dir, 'data'), clientPort: port }),
      (e: unknown) => e instanceof AlluxioError && e.code === 'EtcdUnavailable' && /exited with code \d+ before becoming healthy: .*address already in use/.test(e.message),
    );
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ports it picks itself: started on free ones (the pick is retried when etcd finds one taken)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-etcdsrv-'));
  try {
    const srv = await startEtcdServer({ dataDir: join(dir, 'data') });
    try {
      const res = await fetch(`${srv.endpoint}/health`);
      assert.equal(((await res.json()) as { health: string }).health, 'true');
    } finally {
      await srv.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ports given with a repick (local start): a port taken before etcd binds it is replaced, and etcd starts on the new one', async () => {
  // The race itself (free when picked, taken when bound) forced: the port given is taken.
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-etcdsrv-'));
  const taken = await listen(await freePort());
  const repicked: number[] = [];
  try {
    const port = (taken.address() as { port: number }).port;
    const srv = await startEtcdServer({
      dataDir: join(dir, 'data'),
      clientPort: port,
      peerPort: await freePort(),
      repick: async () => {
        const p = { clientPort: await freePort(), peerPort: await freePort() };
        repicked.push(p.clientPort);
        return p;
      },
    });
    try {
      assert.equal(repicked.length, 1);
      assert.equal(srv.clientPort, repicked[0]);
      assert.equal(((await (await fetch(`${srv.endpoint}/health`)).json()) as { health: string }).health, 'true');
    } finally {
      await srv.stop();
    }
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
