/**
 * Least privilege in etcd (`alluxio etcd setup-auth`, docs/etcd-layout.md "Roles") with
 * authentication on, through the real CLI, real workers and etcdctl: an admin changes the
 * mount table; a worker's credentials run that worker but cannot change the mount table
 * (clear exit-5 error, nothing written) nor register another worker id; a reader sees
 * membership only. Running setup-auth again changes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';

function etcdctl(endpoint: string, user: string | undefined, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('etcdctl', ['--endpoints', endpoint, ...(user ? ['--user', user] : []), ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('etcd auth with least-privilege roles', () => {
  let etcd: TestEtcd;
  const workers: WorkerProcess[] = [];
  const WORKER_USER = 'alluxio-default-worker-w1';
  const as = (user: string, password: string) => ({ ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_ETCD_USER: user, ALLUXIO_ETCD_PASSWORD: password });
  const cli = (args: string[], env: Record<string, string>): Promise<CliResult> => runCli(args, { env, timeoutMs: 60_000 });
  const revision = () => Number(JSON.parse(etcdctl(etcd.endpoint, 'root:rootpw', 'get', '/', '-w', 'json').out).header.revision);

  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await etcd?.destroy();
  });

  it('setup-auth creates the roles and users and enables auth; running it again changes nothing', async () => {
    const args = ['etcd', 'setup-auth', '--admin', 'ops=opspw', '--worker', 'w1=w1pw', '--worker', 'w2', '--reader', 'disco=discopw', '--enable-auth', '--root-password', 'rootpw', '--json'];
    const r = await cli(args, { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const j = r.json();
    assert.equal(j.authEnabled, true);
    assert.notEqual(j.authWasEnabled, true); // null on etcd 3.4 (no AuthStatus)
    assert.deepEqual(j.roles.map((x: { name: string }) => x.name).sort(), [
      'alluxio-default-admin',
      'alluxio-default-member',
      'alluxio-default-reader',
      'alluxio-default-worker-w1',
      'alluxio-default-worker-w2',
    ]);
    const w2 = j.users.find((u: { name: string }) => u.name === 'alluxio-default-worker-w2');
    assert.match(w2.generatedPassword, /^[A-Za-z0-9_-]{20,}$/, 'a new user without a password gets a generated one');
    assert.equal(j.users.find((u: { name: string }) => u.name === WORKER_USER).generatedPassword, undefined);
    // auth is on: anonymous etcdctl is refused
    assert.notEqual(etcdctl(etcd.endpoint, undefined, 'get', '/alluxio/', '--prefix').code, 0);
    // the generated password works
    assert.equal(etcdctl(etcd.endpoint, `alluxio-default-worker-w2:${w2.generatedPassword}`, 'get', '/alluxio/default/config/', '--prefix').code, 0);

    const before = revision();
    const again = await cli(args.filter((a) => a !== '--enable-auth'), as('root', 'rootpw'));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const k = again.json();
    assert.ok(k.roles.every((x: { created: boolean; revoked: number }) => !x.created && x.revoked === 0), JSON.stringify(k.roles));
    assert.ok(k.users.every((u: { created: boolean; generatedPassword?: string }) => !u.created && u.generatedPassword === undefined), JSON.stringify(k.users));
    assert.equal(etcdctl(etcd.endpoint, `alluxio-default-worker-w2:${w2.generatedPassword}`, 'get', '/alluxio/default/config/', '--prefix').code, 0, 'an unnamed password is kept');
    assert.ok(revision() >= before);
    // a permission added by hand to a managed role is revoked by the next run
    assert.equal(etcdctl(etcd.endpoint, 'root:rootpw', 'role', 'grant-permission', WORKER_USER, '--prefix=true', 'readwrite', '/alluxio/default/config/').code, 0);
    const third = await cli(['etcd', 'setup-auth', '--worker', 'w1', '--json'], as('root', 'rootpw'));
    assert.equal(third.code, 0, third.stdout + third.stderr);
    assert.equal(third.json().roles.find((x: { name: string }) => x.name === WORKER_USER).revoked, 1);
    console.log('# setup-auth: 5 roles, 4 users created; second and third runs created nothing, third revoked 1 hand-added permission');
  });

  it('an admin changes the mount table; a worker user runs its worker but is refused a mount-table write (exit 5, nothing written)', async () => {
    const add = await cli(['mount', 'add', '--path', '/data', '--ufs-uri', 'file:///tmp/alluxio-roles-data/', '--json'], as('ops', 'opspw'));
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const committed = add.json().revision;

    const w = await startWorker(etcd.endpoint, { id: 'w1', env: { ALLUXIO_ETCD_USER: WORKER_USER, ALLUXIO_ETCD_PASSWORD: 'w1pw' } });
    workers.push(w);
    await w.waitForRevision(committed, 30_000);
    const listed = (await cli(['worker', 'list', '--json'], as('ops', 'opspw'))).json();
    assert.deepEqual(listed.workers.map((x: { id: string }) => x.id), ['w1']);

    const before = revision();
    let refused = 0;
    for (const args of [
      ['mount', 'add', '--path', '/evil', '--ufs-uri', 'file:///tmp/evil/'],
      ['mount', 'update', '--path', '/data', '--ufs-uri', 'file:///tmp/evil/'],
      ['mount', 'remove', '--path', '/data', '--yes'],
      ['path-mapping', 'add', '--from', '/data', '--to', '/elsewhere', '--id', 'evil'],
    ]) {
      const r = await cli(args, as(WORKER_USER, 'w1pw'));
      assert.equal(r.code, 5, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^Error: etcd authentication: permission denied to user "${WORKER_USER}" .*nothing was written`));
      if (refused === 0) {
        const j = await cli([...args, '--json'], as(WORKER_USER, 'w1pw'));
        assert.equal(j.json().error.code, 'EtcdPermissionDenied');
      }
      refused++;
    }
    assert.equal(revision(), before, 'nothing was written');
    const table = (await cli(['mount', 'list', '--json'], as(WORKER_USER, 'w1pw'))).json();
    assert.deepEqual(table.mounts.map((m: { path: string; ufsUri: string }) => [m.path, m.ufsUri]), [['/data', 'file:///tmp/alluxio-roles-data/']], 'a worker may read the config');

    // The same credentials cannot register (or overwrite) another worker's record.
    const other = spawnSync(process.execPath, [new URL('../../../bin/run.js', import.meta.url).pathname, 'worker', 'start', '--id', 'w9', '--s3-port', '0', '--rest-port', '0', '--bind-host', '127.0.0.1'], {
      env: { ...process.env, ...as(WORKER_USER, 'w1pw'), NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(other.status, 5, other.stderr);
    assert.match(other.stderr, /permission denied/);
    console.log(`# worker credentials: worker w1 ran and applied revision ${committed}; ${refused}/4 mount-table writes refused (EtcdPermissionDenied, exit 5), revision unchanged; worker start --id w9 refused (exit 5)`);
  });

  it('a reader sees membership only', () => {
    assert.equal(etcdctl(etcd.endpoint, 'disco:discopw', 'get', '--prefix', '/alluxio/default/workers/', '--keys-only').code, 0);
    assert.match(etcdctl(etcd.endpoint, 'disco:discopw', 'get', '--prefix', '/alluxio/default/workers/', '--keys-only').out, /workers\/w1/);
    const cfg = etcdctl(etcd.endpoint, 'disco:discopw', 'get', '--prefix', '/alluxio/default/config/');
    assert.notEqual(cfg.code, 0);
    assert.match(cfg.err, /permission denied/);
    const put = etcdctl(etcd.endpoint, 'disco:discopw', 'put', '/alluxio/default/workers/fake', '{}');
    assert.notEqual(put.code, 0);
  });
});
