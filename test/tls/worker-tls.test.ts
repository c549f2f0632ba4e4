/**
 * HTTPS on a real worker process (`worker start --tls-cert --tls-key [--tls-client-ca]
 * [--tls-only]`), with certificates made by openssl in a temp dir, driven by real clients:
 * boto3 (verify=CA), the AWS CLI (--ca-bundle), @aws-sdk/client-s3 (an https agent that
 * trusts the CA) and curl (--cacert, --cert/--key). Clients that do not trust the CA are
 * refused the handshake; with a client CA, clients without a certificate from it are too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../src/local/etcd-server.js';
import { cliFor, runCli } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { makeMountTree } from '../helpers/mount-tree.js';
import { until } from '../helpers/poll.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { awsCli, awsEnv, boto3, run } from '../s3/env.js';
import { makeTestCerts, type TestCerts } from './certs.js';

let etcd: TestEtcd;
let certs: TestCerts;
let tree: ReturnType<typeof makeMountTree>;
let cli: ReturnType<typeof cliFor>;
const workers: WorkerProcess[] = [];
const clients: S3Client[] = [];

before(async () => {
  certs = makeTestCerts();
  etcd = await startTestEtcd();
  tree = makeMountTree('tls-test-');
  cli = cliFor(etcd.endpoint);
  const r = await cli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${tree.data}`]);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(join(tree.data, 'hello.txt'), 'hello over tls');
});

after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(workers.map((w) => w.stop()));
  await etcd?.destroy();
  if (tree) rmSync(tree.dir, { recursive: true, force: true });
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

function sdk(endpoint: string, agent: Agent): S3Client {
  const c = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'alluxio', secretAccessKey: 'alluxio' },
    maxAttempts: 1,
    // The SDK's node handler takes an https.Agent: the one place the CA (and client cert) go.
    requestHandler: { httpsAgent: agent },
  });
  clients.push(c);
  return c;
}

/** GET over HTTPS with node:https; resolves with the status or rejects with the TLS error. */
function httpsGet(url: string, opts: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...opts, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The subject CN of the certificate a TLS port presents (trusting the test CA). */
function servedCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(certs.ca), servername: 'localhost' }, () => {
      const cn = s.getPeerCertificate().subject.CN;
      s.end();
      resolve(Array.isArray(cn) ? cn.join(',') : String(cn));
    });
    s.on('error', reject);
  });
}

function refusedConnection(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

const lastJson = (out: string): any => JSON.parse(out.trim().split('\n').pop()!);

describe('HTTPS alongside plain HTTP (--tls-cert/--tls-key)', () => {
  let w: WorkerProcess;
  let s3Tls: number;
  let restTls: number;
  let s3Https: string;

  before(async () => {
    s3Tls = await freePort();
    restTls = await freePort();
    // The worker copies of the cert files: the reload test replaces them.
    copyFileSync(certs.serverCert, join(certs.dir, 'live.crt'));
    copyFileSync(certs.serverKey, join(certs.dir, 'live.key'));
    w = await startWorker(etcd.endpoint, {
      id: 'tls-along',
      extraArgs: ['--tls-cert', join(certs.dir, 'live.crt'), '--tls-key', join(certs.dir, 'live.key'), '--s3-tls-port', String(s3Tls), '--rest-tls-port', String(restTls)],
    });
    workers.push(w);
    s3Https = `https://127.0.0.1:${s3Tls}`;
  });

  it('boto3 with verify=CA: GET, PUT, list over HTTPS', async () => {
    const r = await boto3(
      s3Https,
      `
s3 = boto3.client("s3", endpoint_url=${JSON.stringify(s3Https)}, verify=${JSON.stringify(certs.ca)}, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
out = {}
out["get"] = s3.get_object(Bucket="data", Key="hello.txt")["Body"].read().decode()
s3.put_object(Bucket="data", Key="boto/put.txt", Body=b"boto3 over https")
out["keys"] = [c["Key"] for c in s3.list_objects_v2(Bucket="data", Prefix="boto/")["Contents"]]
print(json.dumps(out))
`,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = lastJson(r.stdout);
    assert.equal(out.get, 'hello over tls');
    assert.deepEqual(out.keys, ['boto/put.txt']);
    assert.equal(readFileSync(join(tree.data, 'boto', 'put.txt'), 'utf8'), 'boto3 over https');
  });

  it('the AWS CLI with --ca-bundle: cp up and down, ls', async () => {
    const src = join(tree.dir, 'cli-src.txt');
    const back = join(tree.dir, 'cli-back.txt');
    writeFileSync(src, 'aws cli over https');
    let r = await awsCli(s3Https, ['--ca-bundle', certs.ca, 's3', 'cp', '--only-show-errors', src, 's3://data/cli/up.txt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(tree.data, 'cli', 'up.txt'), 'utf8'), 'aws cli over https');
    r = await awsCli(s3Https, ['--ca-bundle', certs.ca, 's3', 'cp', '--only-show-errors', 's3://data/cli/up.txt', back]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(back, 'utf8'), 'aws cli over https');
    r = await awsCli(s3Https, ['--ca-bundle', certs.ca, 's3', 'ls', 's3://data/cli/']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /up\.txt/);
    // AWS_CA_BUNDLE works the same (what `local start --tls` prints).
    r = await awsCli(s3Https, ['s3', 'ls', 's3://data/cli/'], { ...awsEnv(), AWS_CA_BUNDLE: certs.ca });
    assert.equal(r.code, 0, r.stderr);
  });

  it('@aws-sdk/client-s3 with an https agent trusting the CA; plain HTTP still serves', async () => {
    const s3 = sdk(s3Https, new Agent({ ca: readFileSync(certs.ca) }));
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'sdk/a.txt', Body: 'sdk over https' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'sdk/a.txt' }));
    assert.equal(await got.Body!.transformToString(), 'sdk over https');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'sdk/' }));
    assert.deepEqual(list.Contents?.map((c) => c.Key), ['sdk/a.txt']);
    // Same worker, plain port.
    const plain = new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    clients.push(plain);
    const viaHttp = await plain.send(new GetObjectCommand({ Bucket: 'data', Key: 'sdk/a.txt' }));
    assert.equal(await viaHttp.Body!.transformToString(), 'sdk over https');
  });

  it('clients that do not trust the CA are refused the handshake', async () => {
    // Node without the CA.
    await assert.rejects(httpsGet(`${s3Https}/data/hello.txt`), (e: NodeJS.ErrnoException) => /SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY)/.test(String(e.code)));
    // Node trusting another CA.
    await assert.rejects(httpsGet(`${s3Https}/data/hello.txt`, { ca: readFileSync(certs.strangerCa) }), (e: NodeJS.ErrnoException) => /SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY)/.test(String(e.code)));
    // curl without --cacert: exit 60 (peer certificate cannot be authenticated).
    const c = await run('curl', ['-sS', '-o', '/dev/null', `https://127.0.0.1:${restTls}/healthz`]);
    assert.equal(c.code, 60, c.stderr);
    // boto3 with the system trust store only.
    const b = await boto3(s3Https, `
try:
    s3.list_objects_v2(Bucket="data")
    print(json.dumps("served"))
except botocore.exceptions.SSLError as e:
    print(json.dumps("ssl-error"))
`);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(lastJson(b.stdout), 'ssl-error');
  });

  it('REST over HTTPS with curl --cacert: health, status, a file read', async () => {
    const base = `https://127.0.0.1:${restTls}`;
    const health = await run('curl', ['-sS', '--fail', '--cacert', certs.ca, `${base}/readyz`]);
    assert.equal(health.code, 0, health.stderr);
    assert.equal(JSON.parse(health.stdout).ready, true);
    const st = await run('curl', ['-sS', '--fail', '--cacert', certs.ca, `${base}/api/v1/status`]);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout);
    assert.deepEqual(
      { s3Port: status.s3Port, restPort: status.restPort, scheme: status.scheme, s3TlsPort: status.s3TlsPort, restTlsPort: status.restTlsPort, tlsClientAuth: status.tlsClientAuth },
      { s3Port: w.s3Port, restPort: w.restPort, scheme: 'http', s3TlsPort: s3Tls, restTlsPort: restTls, tlsClientAuth: false },
    );
    // localhost is in the certificate too.
    const file = await run('curl', ['-sS', '--fail', '--cacert', certs.ca, `https://localhost:${restTls}/api/v1/file?uri=${encodeURIComponent('/data/hello.txt')}`]);
    assert.equal(file.code, 0, file.stderr);
    assert.equal(file.stdout, 'hello over tls');
    // Plain REST still serves.
    assert.equal((await fetch(`${w.restUrl}/healthz`)).status, 200);
  });

  it('the membership record advertises the HTTPS ports (and stays readable as before)', async () => {
    const list = await cli(['worker', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rec = list.json().workers.find((x: any) => x.id === 'tls-along');
    assert.deepEqual(
      { s3Port: rec.s3Port, restPort: rec.restPort, scheme: rec.scheme, s3TlsPort: rec.s3TlsPort, restTlsPort: rec.restTlsPort, tlsClientAuth: rec.tlsClientAuth },
      { s3Port: w.s3Port, restPort: w.restPort, scheme: 'http', s3TlsPort: s3Tls, restTlsPort: restTls, tlsClientAuth: false },
    );
    const human = await cli(['worker', 'list']);
    assert.match(human.stdout, new RegExp(`127\\.0\\.0\\.1:${w.s3Port} \\(\\+https :${s3Tls}\\)`));
  });

  it('SIGHUP re-reads the certificate files; bad files keep the old certificate', async () => {
    assert.equal(await servedCn(s3Tls), 'localhost');
    // Bad files first: refused, still serving.
    writeFileSync(join(certs.dir, 'live.key'), readFileSync(certs.clientKey));
    process.kill(w.pid, 'SIGHUP');
    await until('the refused reload in the log', () => /TLS reload refused/.test(w.log()));
    assert.equal(await servedCn(s3Tls), 'localhost');
    // A new pair.
    copyFileSync(certs.server2Cert, join(certs.dir, 'live.crt'));
    copyFileSync(certs.server2Key, join(certs.dir, 'live.key'));
    process.kill(w.pid, 'SIGHUP');
    await until('the new certificate served', async () => (await servedCn(restTls)) === 'reloaded.localhost');
    assert.equal(await servedCn(s3Tls), 'reloaded.localhost');
  });
});

describe('HTTPS only, with client certificates (--tls-only --tls-client-ca)', () => {
  let w: WorkerProcess;
  let s3Tls: number;
  let restTls: number;

  before(async () => {
    s3Tls = await freePort();
    restTls = await freePort();
    w = await startWorker(etcd.endpoint, {
      id: 'tls-mutual',
      noWait: true,
      extraArgs: ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.clientCa, '--tls-only', '--s3-tls-port', String(s3Tls), '--rest-tls-port', String(restTls)],
    });
    workers.push(w);
    const id = { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    await until('the worker ready over HTTPS', async () => (await httpsGet(`https://127.0.0.1:${restTls}/readyz`, id)).status === 200);
  });

  it('the plain ports are not opened', async () => {
    assert.equal(await refusedConnection(w.s3Port), true);
    assert.equal(await refusedConnection(w.restPort), true);
  });

  it('a client without a certificate, or with one from another CA, is refused; one signed by the client CA is served', async () => {
    const base = `https://127.0.0.1:${restTls}`;
    const none = await run('curl', ['-sS', '-o', '/dev/null', '--cacert', certs.ca, `${base}/healthz`]);
    assert.notEqual(none.code, 0, 'no client certificate must fail');
    assert.match(none.stderr, /alert|certificate|handshake|SSL/i);
    const stranger = await run('curl', ['-sS', '-o', '/dev/null', '--cacert', certs.ca, '--cert', certs.strangerCert, '--key', certs.strangerKey, `${base}/healthz`]);
    assert.notEqual(stranger.code, 0, 'a certificate from another CA must fail');
    const ok = await run('curl', ['-sS', '--fail', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, `${base}/healthz`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { ok: true });
  });

  it('S3 with a client certificate: the JS SDK and boto3 (client_cert); without one the SDK is refused', async () => {
    const s3Https = `https://127.0.0.1:${s3Tls}`;
    const s3 = sdk(s3Https, new Agent({ ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'hello.txt' }));
    assert.equal(await got.Body!.transformToString(), 'hello over tls');
    const anon = sdk(s3Https, new Agent({ ca: readFileSync(certs.ca) }));
    await assert.rejects(anon.send(new GetObjectCommand({ Bucket: 'data', Key: 'hello.txt' })));
    const r = await boto3(
      s3Https,
      `
s3 = boto3.client("s3", endpoint_url=${JSON.stringify(s3Https)}, verify=${JSON.stringify(certs.ca)}, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, client_cert=(${JSON.stringify(certs.clientCert)}, ${JSON.stringify(certs.clientKey)})))
print(json.dumps(s3.get_object(Bucket="data", Key="hello.txt")["Body"].read().decode()))
`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson(r.stdout), 'hello over tls');
  });

  it('the record says scheme https with the HTTPS ports as s3Port/restPort, and mutual TLS', async () => {
    const rec = (await cli(['worker', 'list', '--json'])).json().workers.find((x: any) => x.id === 'tls-mutual');
    assert.deepEqual(
      { s3Port: rec.s3Port, restPort: rec.restPort, scheme: rec.scheme, s3TlsPort: rec.s3TlsPort, restTlsPort: rec.restTlsPort, tlsClientAuth: rec.tlsClientAuth },
      { s3Port: s3Tls, restPort: restTls, scheme: 'https', s3TlsPort: s3Tls, restTlsPort: restTls, tlsClientAuth: true },
    );
  });
});

describe('bad certificate files are refused at start (exit 2, no stack trace)', () => {
  const start = (args: string[]) =>
    runCli(['worker', 'start', '--id', 'bad-tls', '--host', '127.0.0.1', '--bind-host', '127.0.0.1', '--s3-port', '0', '--rest-port', '0', '--s3-tls-port', '0', '--rest-tls-port', '0', ...args], {
      env: { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint },
    });

  it('missing, not PEM, mismatched key, client CA that is not a certificate, key without cert', async () => {
    const cases: [string[], RegExp][] = [
      [['--tls-cert', join(certs.dir, 'nope.crt'), '--tls-key', certs.serverKey], /--tls-cert .*nope\.crt: cannot read it \(no such file\)/],
      [['--tls-cert', join(certs.dir, 'server.ext'), '--tls-key', certs.serverKey], /--tls-cert .*server\.ext: not a PEM file/],
      [['--tls-cert', certs.serverCert, '--tls-key', certs.clientKey], /--tls-key .*client\.key does not belong to the certificate in --tls-cert/],
      [['--tls-cert', certs.serverKey, '--tls-key', certs.serverKey], /--tls-cert .*server\.key: no certificate in it/],
      [['--tls-cert', certs.serverCert, '--tls-key', certs.serverCert], /--tls-key .*server\.crt: not a private key/],
      [['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.clientKey], /--tls-client-ca .*client\.key: no certificate in it/],
      [['--tls-key', certs.serverKey], /tls-cert/],
    ];
    for (const [args, msg] of cases) {
      const r = await start(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    // Nothing registered.
    assert.deepEqual((await cli(['worker', 'list', '--json'])).json().workers.filter((x: any) => x.id === 'bad-tls'), []);
  });
});
