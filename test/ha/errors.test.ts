/**
 * etcd failures named for what they are, through the real CLI: a deadline that passes while
 * etcd answers is EtcdTimeout ("reachable ... raise --etcd-timeout"), not "unreachable";
 * nothing listening on any endpoint is EtcdUnavailable naming each endpoint, and fails at
 * once rather than at the deadline. (No leader: test/ha/failover.test.ts; permission
 * denied: test/ha/etcd-roles.test.ts.) A full etcd (NOSPACE) is EtcdNoSpace, at once.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { etcdForSuite, startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { EtcdConnection } from '../../src/store/connection.js';
import type { AlluxioError } from '../../src/domain/errors.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../../src/local/etcd-server.js';
import { createServer } from 'node:http';

describe('etcd failures named for what they are', () => {
  const etcd = etcdForSuite();

  it('a deadline too short for a live etcd: EtcdTimeout, saying etcd is reachable and how to raise the deadline', async () => {
    for (const args of [
      ['mount', 'add', '--path', '/t', '--ufs-uri', 'file:///tmp/t/'],
      ['mount', 'list'],
    ]) {
      const r = await runCli([...args, '--etcd-timeout', '1ms', '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: etcd().endpoint } });
      assert.equal(r.code, 5, r.stdout + r.stderr);
      const e = r.json().error;
      assert.equal(e.code, 'EtcdTimeout', e.message);
      assert.match(e.message, /^etcd is reachable \(1 of 1 members answer: http:\/\/127\.0\.0\.1:\d+\) but .* did not complete within --etcd-timeout 0\.001s .*raise --etcd-timeout \(ALLUXIO_ETCD_TIMEOUT\)/);
      assert.doesNotMatch(e.message, /unreachable/);
    }
    const list = await runCli(['mount', 'list', '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: etcd().endpoint } });
    assert.deepEqual(list.json().mounts, [], 'nothing was written');
  });

  it('the deadline passes while one member answers and another refuses: the refused one is named unreachable, not a hung member', async () => {
    // (the HA probe of 2026-12-03: right after the leader was killed, a 1 s call listed the
    // dead member under "not answering ... each hung member costs an attempt")
    const down = `http://127.0.0.1:${await freePort()}`;
    const r = await runCli(['mount', 'list', '--etcd-timeout', '1ms', '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: `${etcd().endpoint},${down}` } });
    assert.equal(r.code, 5, r.stdout + r.stderr);
    const e = r.json().error;
    assert.equal(e.code, 'EtcdTimeout', e.message);
    assert.match(e.message, /^etcd is reachable \(1 of 2 members answer: /);
    assert.ok(e.message.includes(`; unreachable: ${down}: connection refused (a member lost: the leader election that follows may have been under way)`), e.message);
    assert.doesNotMatch(e.message, /not answering|hung member/);
  });

  it('no member listening: EtcdUnavailable naming every endpoint, at once (not after --etcd-timeout)', async () => {
    const eps = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    const started = Date.now();
    const r = await runCli(['mount', 'add', '--path', '/t', '--ufs-uri', 'file:///tmp/t/', '--etcd-timeout', '60s'], { env: { ALLUXIO_ETCD_ENDPOINTS: eps.join(',') }, timeoutMs: 50_000 });
    const took = Date.now() - started;
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    for (const ep of eps) assert.ok(r.stderr.includes(`${ep}: connection refused`), r.stderr);
    assert.match(r.stderr, /^Error: etcd is unreachable at .*no member answered.*check that etcd is running/);
    // the child was allowed 50 s; a 60 s deadline would have killed it (exit null)
    console.log(`# all members down: exit 5 after ${took} ms with --etcd-timeout 60s`);
  });

  it('an endpoint that answers HTTP but is not etcd (a worker port by mistake): EtcdUnavailable saying so, not "overloaded"', async () => {
    // A worker's port (404 with its own JSON), and a plain HTTP server that does not take
    // POST (501 with an HTML page, as python's http.server: it was named "reachable but
    // did not complete within --etcd-timeout ... raise --etcd-timeout").
    const servers = [
      { status: 404, answer: createServer((req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NotFound","message":"no such endpoint"}}')) },
      { status: 501, answer: createServer((req, res) => res.writeHead(501, { 'content-type': 'text/html' }).end('<html><body>Unsupported method</body></html>')) },
    ];
    for (const { status, answer: server } of servers) {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      try {
        const ep = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        for (const args of [['mount', 'list'], ['mount', 'add', '--path', '/t', '--ufs-uri', 'file:///tmp/t/']]) {
          const r = await runCli([...args, '--etcd-timeout', '2s', '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: ep } });
          assert.equal(r.code, 5, r.stdout + r.stderr);
          const e = r.json().error;
          assert.equal(e.code, 'EtcdUnavailable', e.message);
          assert.match(e.message, new RegExp(`does not answer as etcd: its HTTP answer was not etcd's .*HTTP ${status}.*names etcd's client port`));
          assert.doesNotMatch(e.message, /overloaded|reachable/);
        }
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    }
  });
});

describe('a full etcd (the NOSPACE alarm)', () => {
  let etcd: TestEtcd | undefined;
  after(async () => {
    await etcd?.destroy();
  });

  it('a write is EtcdNoSpace saying what to do, at once, through the CLI and over grpc (not retried to the deadline as "overloaded")', async () => {
    etcd = await startTestEtcd({ extraArgs: ['--quota-backend-bytes=2000000'] });
    const conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'nospace', timeoutMs: 60_000 });
    try {
      const value = randomBytes(60_000).toString('base64');
      let full: unknown;
      for (let i = 0; i < 200 && full === undefined; i++) {
        await conn.call('fill etcd', (c) => c.put(`/fill/${i}`).value(value).exec()).catch((e: unknown) => (full = e));
      }
      assert.equal((full as AlluxioError).code, 'EtcdNoSpace', String(full));
      const started = Date.now();
      const e = await conn.call('put a key', (c) => c.put('/alluxio/nospace/x').value('y').exec()).then(() => undefined, (err: unknown) => err as AlluxioError);
      assert.equal(e?.code, 'EtcdNoSpace', String(e));
      assert.match(e!.message, /database is full .*NOSPACE.*etcdctl alarm disarm/);
      // (before: etcd3 retried it until the 60 s deadline, then EtcdTimeout)
      assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
      const r = await runCli(['mount', 'add', '--path', '/t', '--ufs-uri', 'file:///tmp/t/', '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint } });
      assert.equal(r.code, 5, r.stdout + r.stderr);
      assert.equal(r.json().error.code, 'EtcdNoSpace');
      const list = await runCli(['mount', 'list', '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint } });
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(list.json().mounts, [], 'reads work, and nothing was written');
    } finally {
      conn.close();
    }
  });
});
