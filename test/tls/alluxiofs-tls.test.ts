/**
 * alluxiofs over HTTPS: workers serving TLS beside plain HTTP (with signatures required)
 * and TLS only with client certificates; the client trusts the CA it is given
 * (ca_bundle / ALLUXIO_CA_BUNDLE), finds each worker's REST TLS port in its membership
 * record through etcd, signs for the port it connects to, presents a client certificate
 * when asked, and never falls back to plain HTTP. Debian's python3 with PYTHONPATH=python.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { freePort } from '../../src/local/etcd-server.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { makeMountTree, type MountTree } from '../helpers/mount-tree.js';
import { until } from '../helpers/poll.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { python } from '../fsspec/env.js';
import { makeTestCerts, type TestCerts } from './certs.js';

let certs: TestCerts;
let etcd: TestEtcd;
let tree: MountTree;
const workers: WorkerProcess[] = [];

const READ = `
import json, sys, fsspec, alluxiofs
kw = json.loads(sys.argv[1])
try:
    fs = fsspec.filesystem("alluxiofs", skip_instance_cache=True, short_circuit=False, timeout=10, dead_worker_cooldown=0, **kw)
    print(json.dumps({"ok": fs.cat_file("alluxio:///data/hello.txt").decode(), "workers": fs.client.workers()}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)[:300]}))
`;

async function read(kw: Record<string, unknown>, env: Record<string, string> = {}): Promise<any> {
  const r = await python(['-c', READ, JSON.stringify(kw)], env);
  assert.equal(r.code, 0, r.stderr);
  return r.json();
}

function httpsStatus(url: string, opts: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...opts, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  certs = makeTestCerts();
  etcd = await startTestEtcd();
  tree = makeMountTree('alluxiofs-tls-');
  writeFileSync(join(tree.data, 'hello.txt'), 'hello over https');
  const r = await cliFor(etcd.endpoint)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${tree.data}`]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await etcd?.destroy();
  if (tree) rmSync(tree.dir, { recursive: true, force: true });
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

describe('alluxiofs over HTTPS', () => {
  let restTls: number;

  before(async () => {
    restTls = await freePort();
    workers.push(
      await startWorker(etcd.endpoint, {
        id: 'along',
        env: { ALLUXIO_S3_CREDENTIALS: 'AKTLS:secret-tls' },
        extraArgs: ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--s3-tls-port', String(await freePort()), '--rest-tls-port', String(restTls)],
      }),
    );
  });

  it('discovers the REST TLS port through etcd, trusts the given CA, signs for the port it connects to', async () => {
    const keys = { access_key: 'AKTLS', secret_key: 'secret-tls' };
    const doc = await read({ etcd_hosts: etcd.endpoint, ca_bundle: certs.ca, ...keys });
    assert.equal(doc.ok, 'hello over https', JSON.stringify(doc));
    // The placement name stays host:restPort, so HTTP and HTTPS clients pick the same worker.
    assert.deepEqual(doc.workers, [`127.0.0.1:${workers[0]!.restPort}`]);
    const byEnv = await read({ etcd_hosts: etcd.endpoint, ...keys }, { ALLUXIO_CA_BUNDLE: certs.ca });
    assert.equal(byEnv.ok, 'hello over https', JSON.stringify(byEnv));
    const staticHost = await read({ worker_hosts: `https://127.0.0.1:${restTls}`, ca_bundle: certs.ca, ...keys });
    assert.equal(staticHost.ok, 'hello over https', JSON.stringify(staticHost));
  });

  it('refuses a worker whose certificate it cannot verify (no silent plain-HTTP fallback)', async () => {
    const doc = await read({ worker_hosts: `https://127.0.0.1:${restTls}`, use_https: true, access_key: 'AKTLS', secret_key: 'secret-tls' });
    assert.ok(doc.error, JSON.stringify(doc));
    assert.match(doc.message, /CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSL/i);
    const wrongCa = await read({ worker_hosts: `https://127.0.0.1:${restTls}`, ca_bundle: certs.strangerCa, access_key: 'AKTLS', secret_key: 'secret-tls' });
    assert.ok(wrongCa.error, JSON.stringify(wrongCa));
  });
});

describe('alluxiofs to TLS-only workers with client certificates', () => {
  let restTls: number;

  before(async () => {
    restTls = await freePort();
    const w = await startWorker(etcd.endpoint, {
      id: 'mutual',
      noWait: true,
      extraArgs: ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.clientCa, '--tls-only', '--s3-tls-port', String(await freePort()), '--rest-tls-port', String(restTls)],
    });
    workers.push(w);
    const id = { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    await until('the TLS-only worker ready', async () => (await httpsStatus(`https://127.0.0.1:${restTls}/readyz`, id)) === 200);
  });

  it('presents the client certificate; without one the handshake is refused', async () => {
    const ok = await read({ worker_hosts: `https://127.0.0.1:${restTls}`, ca_bundle: certs.ca, client_cert: certs.clientCert, client_key: certs.clientKey });
    assert.equal(ok.ok, 'hello over https', JSON.stringify(ok));
    const none = await read({ worker_hosts: `https://127.0.0.1:${restTls}`, ca_bundle: certs.ca });
    assert.ok(none.error, JSON.stringify(none));
  });

  it('a plain-HTTP client discovering through etcd skips the TLS-only worker instead of talking HTTP to its TLS port', async () => {
    const doc = await read({ etcd_hosts: etcd.endpoint, use_https: false });
    // Only the worker with a plain port is a candidate (it requires signatures: no keys here).
    assert.ok(!JSON.stringify(doc).includes(String(restTls)), JSON.stringify(doc));
  });
});
