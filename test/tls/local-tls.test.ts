/**
 * `alluxio local start --tls` end to end: the throwaway CA made with openssl in the
 * cluster's dir, workers serving HTTPS, the printed CA used by the AWS CLI, boto3 and curl;
 * `--tls-only` (readiness and `local status` over HTTPS, plain ports closed); the CA kept
 * across stop/start.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { awsCli, awsEnv, boto3, run } from '../s3/env.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

describe('alluxio local start --tls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-local-tls-'));
  const data = join(dir, 'data');
  const env = { ALLUXIO_CLUSTER: 'localtls', ALLUXIO_ETCD_ENDPOINTS: undefined };
  const ports = ['--etcd-port', '0', '--s3-port', '0', '--rest-port', '0', '--s3-tls-port', '0', '--rest-tls-port', '0'];
  const pids: number[] = [];

  after(async () => {
    await runCli(['local', 'stop', '--dir', dir], { env });
    for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a CA and a 127.0.0.1/localhost certificate, prints the CA; AWS CLI, boto3 and curl use it', async () => {
    const start = await runCli(['local', 'start', '--tls', '--workers', '1', '--dir', dir, ...ports], { env });
    assert.equal(start.code, 0, start.stdout + start.stderr);
    const ca = join(dir, 'tls', 'ca.crt');
    assert.match(start.stdout, new RegExp(`^export AWS_CA_BUNDLE=${ca.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(start.stdout, /TLS: trust the throwaway CA/);
    const cert = new X509Certificate(readFileSync(join(dir, 'tls', 'server.crt')));
    assert.ok(cert.checkIssued(new X509Certificate(readFileSync(ca))), 'server.crt is signed by ca.crt');
    assert.ok(cert.checkIP('127.0.0.1') && cert.checkHost('localhost'));

    const st = await runCli(['local', 'status', '--dir', dir, '--json'], { env });
    assert.equal(st.code, 0, st.stdout + st.stderr);
    const status = st.json();
    pids.push(status.etcd.pid, ...status.workers.map((w: any) => w.pid));
    assert.equal(status.healthy, true);
    assert.equal(status.env.AWS_CA_BUNDLE, ca);
    const list = (await runCli(['worker', 'list', '--json'], { env: { ...status.env } })).json();
    const w = list.workers[0];
    assert.equal(w.scheme, 'http');
    assert.ok(w.s3TlsPort > 0 && w.restTlsPort > 0);

    mkdirSync(data);
    writeFileSync(join(data, 'x.txt'), 'local tls');
    const add = await runCli(['mount', 'add', '--path', '/demo', '--ufs-uri', `file://${data}`, '--wait'], { env: { ...status.env } });
    assert.equal(add.code, 0, add.stderr);
    const s3 = `https://127.0.0.1:${w.s3TlsPort}`;
    // The AWS CLI with only the printed environment.
    const ls = await awsCli(s3, ['s3', 'ls', 's3://demo/'], { ...awsEnv(), AWS_CA_BUNDLE: status.env.AWS_CA_BUNDLE });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /x\.txt/);
    const b = await boto3(s3, `
s3 = boto3.client("s3", endpoint_url=${JSON.stringify(s3)}, verify=${JSON.stringify(ca)}, config=Config(s3={"addressing_style": "path"}))
print(json.dumps(s3.get_object(Bucket="demo", Key="x.txt")["Body"].read().decode()))
`);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout.trim()), 'local tls');
    const c = await run('curl', ['-sS', '--fail', '--cacert', ca, `https://localhost:${w.restTlsPort}/readyz`]);
    assert.equal(c.code, 0, c.stderr);

    const stop = await runCli(['local', 'stop', '--dir', dir], { env });
    assert.equal(stop.code, 0, stop.stderr);
  });

  it('--tls-only: ready and healthy over HTTPS, plain ports closed, the same CA reused', async () => {
    const caBefore = readFileSync(join(dir, 'tls', 'ca.crt'), 'utf8');
    const start = await runCli(['local', 'start', '--tls-only', '--workers', '1', '--dir', dir, ...ports, '--json'], { env });
    assert.equal(start.code, 0, start.stdout + start.stderr);
    const s = start.json();
    pids.push(s.etcd.pid, ...s.workers.map((w: any) => w.pid));
    assert.equal(readFileSync(s.tls.caCert, 'utf8'), caBefore, 'the CA is kept while valid');
    assert.equal(s.tls.only, true);
    assert.equal(s.workers[0].s3Endpoint, undefined);
    assert.match(s.workers[0].s3HttpsEndpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    const st = (await runCli(['local', 'status', '--dir', dir, '--json'], { env })).json();
    assert.equal(st.healthy, true, JSON.stringify(st));
    assert.equal(st.workers[0].endpoint, s.workers[0].s3HttpsEndpoint);
    const rec = (await runCli(['worker', 'list', '--json'], { env: { ...st.env } })).json().workers[0];
    assert.equal(rec.scheme, 'https');
    // The record's s3Port is the HTTPS one; nothing plain listens.
    assert.equal(`https://127.0.0.1:${rec.s3Port}`, s.workers[0].s3HttpsEndpoint);
    const plain = await run('curl', ['-sS', '--fail', '-o', '/dev/null', `http://127.0.0.1:${rec.restPort}/healthz`]);
    assert.notEqual(plain.code, 0, 'plain HTTP on an HTTPS-only port must not be served');
    const ok = await run('curl', ['-sS', '--fail', '--cacert', s.tls.caCert, `${s.workers[0].restHttpsEndpoint}/healthz`]);
    assert.equal(ok.code, 0, ok.stderr);
  });
});
