/**
 * Secured etcd through the real CLI: user/password authentication (refusals exit 5 and say
 * "authentication"), least-privilege roles on the cluster prefix, and TLS with a private CA
 * and client certificates (--etcd-ca/--etcd-cert/--etcd-key and their env variables).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { freePort } from '../../src/local/etcd-server.js';
import { EtcdConnection, type ConnectionOptions } from '../../src/store/connection.js';
import { kvRange } from '../../src/store/kv.js';
import { undiciGatewayTransport } from '../../src/store/gateway-undici.js';
import { isAlluxioError } from '../../src/domain/errors.js';

const execFileP = promisify(execFile);

async function etcdctl(endpoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  return stdout;
}

/**
 * A prefix range through the gateway with the CLI's transport (node:http) and a worker's
 * (undici): each outcome, the keys read or the error code and message, in that order.
 */
async function bothTransports(opts: ConnectionOptions, prefix: string): Promise<string[]> {
  const outcomes: string[] = [];
  for (const undici of [false, true]) {
    const conn = new EtcdConnection({ ...opts, ...(undici ? { gatewayTransport: undiciGatewayTransport } : {}) });
    try {
      const r = await kvRange(conn, 'read', { key: prefix, prefix: true });
      outcomes.push(`ok ${r.kvs.map((kv) => kv.key).join(',')}`);
    } catch (e) {
      assert.ok(isAlluxioError(e), `${undici ? 'undici' : 'node:http'}: ${String(e)}`);
      // (the endpoint's port and the member's own words aside)
      outcomes.push(`${e.code} ${e.message.replace(/:\d+/g, ':PORT').split(':')[0]}`);
    } finally {
      conn.close();
    }
  }
  return outcomes;
}

function oneLineError(r: CliResult, code: number, pattern: RegExp, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, `${what}: one line on stderr:\n${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.match(r.stderr, pattern);
}

describe('etcd with authentication enabled', () => {
  let etcd: TestEtcd;
  let rootAuth: string[];
  const env = () => ({ ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: 'secure' });
  const revision = async () => Number(JSON.parse(await etcdctl(etcd.endpoint, ...rootAuth, 'get', '/', '-w', 'json')).header.revision);

  before(async () => {
    etcd = await startTestEtcd();
    rootAuth = ['--user', 'root:rootpw'];
    await etcdctl(etcd.endpoint, 'user', 'add', 'root:rootpw', '--interactive=false');
    // A least-privilege operator: read/write on this cluster's prefix only.
    await etcdctl(etcd.endpoint, 'role', 'add', 'alluxio-secure');
    await etcdctl(etcd.endpoint, 'role', 'grant-permission', 'alluxio-secure', '--prefix=true', 'readwrite', '/alluxio/secure/');
    await etcdctl(etcd.endpoint, 'user', 'add', 'ops:opspw', '--interactive=false');
    await etcdctl(etcd.endpoint, 'user', 'grant-role', 'ops', 'alluxio-secure');
    await etcdctl(etcd.endpoint, 'user', 'add', 'nobody:nopw', '--interactive=false');
    await etcdctl(etcd.endpoint, 'auth', 'enable');
  });
  after(async () => {
    await etcd?.destroy();
  });

  it('the right user and password (flags) work', async () => {
    const add = await runCli(['mount', 'add', '--path', '/data', '--ufs-uri', 's3://my-bucket/data', '--etcd-user', 'root', '--etcd-password', 'rootpw', '--json'], { env: env() });
    assert.equal(add.code, 0, add.stderr);
    const list = await runCli(['mount', 'list', '--json', '--etcd-user', 'root', '--etcd-password', 'rootpw'], { env: env() });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json().mounts.map((m: { path: string }) => m.path), ['/data']);
  });

  it('the right user and password (env) work, and a role on the cluster prefix is enough', async () => {
    const r = await runCli(['mount', 'add', '--path', '/ops', '--ufs-uri', 's3://my-bucket/ops', '--json'], { env: { ...env(), ALLUXIO_ETCD_USER: 'ops', ALLUXIO_ETCD_PASSWORD: 'opspw' } });
    assert.equal(r.code, 0, r.stderr);
    const list = await runCli(['mount', 'list', '--json'], { env: { ...env(), ALLUXIO_ETCD_USER: 'ops', ALLUXIO_ETCD_PASSWORD: 'opspw' } });
    assert.deepEqual(list.json().mounts.map((m: { path: string }) => m.path), ['/data', '/ops']);
  });

  it('a wrong password: exit 5, one line saying authentication, nothing written', async () => {
    const before = await revision();
    for (const args of [['mount', 'list'], ['mount', 'add', '--path', '/x', '--ufs-uri', 's3://my-bucket/x'], ['mount', 'remove', '--path', '/data', '--yes']]) {
      const r = await runCli([...args, '--etcd-user', 'root', '--etcd-password', 'wrong'], { env: env(), timeoutMs: 30_000 });
      oneLineError(r, 5, /^Error: etcd at http:\/\/127\.0\.0\.1:\d+ refused authentication for user "root"; check --etcd-user\/--etcd-password/, args.join(' '));
      const j = await runCli([...args, '--etcd-user', 'root', '--etcd-password', 'wrong', '--json'], { env: env(), timeoutMs: 30_000 });
      assert.equal(j.code, 5);
      assert.equal(j.json().error.code, 'EtcdAuthFailed');
      assert.equal(j.json().error.exitCode, 5);
      assert.match(j.json().error.message, /authentication/);
    }
    assert.equal(await revision(), before);
  });

  it('an unknown user: exit 5 saying authentication', async () => {
    const r = await runCli(['mount', 'list', '--etcd-user', 'mallory', '--etcd-password', 'x'], { env: env() });
    oneLineError(r, 5, /refused authentication for user "mallory"/, 'unknown user');
  });

  it('no credentials at all: exit 5 saying authentication is required', async () => {
    const r = await runCli(['mount', 'list'], { env: env() });
    oneLineError(r, 5, /requires authentication \(auth is enabled\).*--etcd-user\/--etcd-password/, 'anonymous');
  });

  it('a user without permission on the prefix: exit 5 saying authentication / permission denied, nothing written', async () => {
    const before = await revision();
    const r = await runCli(['mount', 'add', '--path', '/x', '--ufs-uri', 's3://my-bucket/x'], { env: { ...env(), ALLUXIO_ETCD_USER: 'nobody', ALLUXIO_ETCD_PASSWORD: 'nopw' } });
    oneLineError(r, 5, /authentication: permission denied to user "nobody"/, 'no role');
    // ops may write /alluxio/secure/ but not another cluster's prefix
    const other = await runCli(['mount', 'list', '--cluster', 'other'], { env: { ...env(), ALLUXIO_ETCD_USER: 'ops', ALLUXIO_ETCD_PASSWORD: 'opspw' } });
    oneLineError(other, 5, /permission denied to user "ops".*\/alluxio\/other\//, 'other prefix');
    assert.equal(await revision(), before);
  });

  it("a worker's gateway transport (undici) logs in and is refused as the CLI's is", async () => {
    const opts = { endpoints: [etcd.endpoint], cluster: 'secure' };
    const right = await bothTransports({ ...opts, user: 'ops', password: 'opspw' }, '/alluxio/secure/');
    assert.equal(right[0], right[1]);
    assert.match(right[0]!, /^ok /);
    const wrong = await bothTransports({ ...opts, user: 'root', password: 'wrong' }, '/alluxio/secure/');
    assert.deepEqual(wrong, ['EtcdAuthFailed etcd at http', 'EtcdAuthFailed etcd at http']);
    const none = await bothTransports(opts, '/alluxio/secure/');
    assert.equal(none[0], none[1]);
    assert.doesNotMatch(none[0]!, /^ok/);
  });
});

describe('etcd over TLS with client certificates', () => {
  let etcd: TestEtcd;
  let dir: string;
  let httpsEndpoint: string;
  const pem = (name: string) => join(dir, name);

  function openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alluxio-tls-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=alluxio-test-ca');
    writeFileSync(pem('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
    writeFileSync(pem('client.ext'), 'extendedKeyUsage=clientAuth\n');
    openssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=alluxio-admin');
    openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2', '-extfile', 'client.ext');
    // A second, unrelated CA: its client certificate must be refused.
    openssl('req', '-x509', ...ec, '-keyout', 'rogue.key', '-out', 'rogue.pem', '-days', '2', '-subj', '/CN=rogue');

    const clientPort = await freePort();
    const tlsPort = await freePort();
    httpsEndpoint = `https://127.0.0.1:${tlsPort}`;
    etcd = await startTestEtcd({
      clientPort,
      extraArgs: [
        // plain http stays on the helper's port for its health check; TLS on a second port
        '--listen-client-urls', `http://127.0.0.1:${clientPort},${httpsEndpoint}`,
        '--advertise-client-urls', httpsEndpoint,
        '--cert-file', pem('server.pem'),
        '--key-file', pem('server.key'),
        '--trusted-ca-file', pem('ca.pem'),
        '--client-cert-auth',
      ],
    });
  });
  after(async () => {
    await etcd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tlsFlags = () => ['--etcd-endpoints', httpsEndpoint, '--etcd-ca', pem('ca.pem'), '--etcd-cert', pem('client.pem'), '--etcd-key', pem('client.key')];

  it('CA + client certificate (flags): add and list work over https', async () => {
    const add = await runCli(['mount', 'add', '--path', '/tls', '--ufs-uri', 's3://my-bucket/tls', '--json', ...tlsFlags()]);
    assert.equal(add.code, 0, add.stderr);
    const list = await runCli(['mount', 'list', '--json', ...tlsFlags()]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json().mounts.map((m: { path: string }) => m.path), ['/tls']);
    // and it really went through the TLS etcd: etcdctl with the same certificates sees it
    const seen = await etcdctl(httpsEndpoint, '--cacert', pem('ca.pem'), '--cert', pem('client.pem'), '--key', pem('client.key'), 'get', '/alluxio/default/config/mounts/tls', '--print-value-only');
    assert.equal(JSON.parse(seen).ufsUri, 's3://my-bucket/tls/');
  });

  it('the same through ALLUXIO_ETCD_CA / _CERT / _KEY', async () => {
    const r = await runCli(['mount', 'list', '--json'], {
      env: { ALLUXIO_ETCD_ENDPOINTS: httpsEndpoint, ALLUXIO_ETCD_CA: pem('ca.pem'), ALLUXIO_ETCD_CERT: pem('client.pem'), ALLUXIO_ETCD_KEY: pem('client.key') },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().mounts.length, 1);
  });

  it('no client certificate: exit 5, one line, no hang', async () => {
    const r = await runCli(['mount', 'list', '--etcd-endpoints', httpsEndpoint, '--etcd-ca', pem('ca.pem'), '--etcd-timeout', '3s'], { timeoutMs: 30_000 });
    oneLineError(r, 5, /^Error: etcd is unreachable at https:\/\/127\.0\.0\.1:\d+/, 'no client cert');
  });

  it('a client certificate from another CA: exit 5', async () => {
    const r = await runCli(['mount', 'list', '--etcd-endpoints', httpsEndpoint, '--etcd-ca', pem('ca.pem'), '--etcd-cert', pem('rogue.pem'), '--etcd-key', pem('rogue.key'), '--etcd-timeout', '3s'], { timeoutMs: 30_000 });
    oneLineError(r, 5, /etcd is unreachable at https:/, 'rogue client cert');
  });

  it('a server certificate we do not trust: exit 5', async () => {
    const r = await runCli(['mount', 'list', '--etcd-endpoints', httpsEndpoint, '--etcd-ca', pem('rogue.pem'), '--etcd-cert', pem('client.pem'), '--etcd-key', pem('client.key'), '--etcd-timeout', '3s'], { timeoutMs: 30_000 });
    oneLineError(r, 5, /etcd is unreachable at https:/, 'untrusted server');
  });

  it("a worker's gateway transport (undici) uses the CA and client certificate as the CLI's does", async () => {
    await etcdctl(httpsEndpoint, '--cacert', pem('ca.pem'), '--cert', pem('client.pem'), '--key', pem('client.key'), 'put', '/alluxio/transport/k', 'v');
    const opts = { endpoints: [httpsEndpoint], cluster: 'transport', timeoutMs: 3000 };
    const ok = await bothTransports({ ...opts, ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key') }, '/alluxio/transport/');
    assert.deepEqual(ok, ['ok /alluxio/transport/k', 'ok /alluxio/transport/k']);
    for (const [what, files] of [
      ['no client certificate', { ca: pem('ca.pem') }],
      ['a client certificate from another CA', { ca: pem('ca.pem'), cert: pem('rogue.pem'), key: pem('rogue.key') }],
      ['an untrusted server', { ca: pem('rogue.pem'), cert: pem('client.pem'), key: pem('client.key') }],
    ] as const) {
      const refused = await bothTransports({ ...opts, ...files }, '/alluxio/transport/');
      assert.equal(refused[0], refused[1], what);
      assert.match(refused[0]!, /^EtcdUnavailable etcd is unreachable at https/, what);
    }
  });

  it('an unreadable certificate file: exit 2 naming the file', async () => {
    const r = await runCli(['mount', 'list', '--etcd-endpoints', httpsEndpoint, '--etcd-ca', pem('missing.pem')]);
    oneLineError(r, 2, /cannot read CA certificate .*missing\.pem/, 'missing CA file');
  });
});
