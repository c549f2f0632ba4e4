/**
 * `alluxio mount ...` end to end: bin/run.js as a child process against a real etcd.
 * Every refused input is checked for its cli.md exit code AND for writing nothing
 * (the etcd revision and every key under /alluxio/ are unchanged).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Etcd3 } from 'etcd3';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { runInPty } from '../helpers/pty.js';
import { cliFor, runCli, type CliResult } from '../helpers/cli.js';
import { freePort } from '../../src/local/etcd-server.js';

let etcd: TestEtcd;
let client: Etcd3;
let cli: ReturnType<typeof cliFor>;
const CLUSTER = 'mount-cli';
const ROOT = `/alluxio/${CLUSTER}/`;

interface Snapshot {
  revision: number;
  kvs: [string, string, string][];
}

async function snapshot(): Promise<Snapshot> {
  const r = await client.getAll().prefix('/alluxio/').exec();
  return { revision: Number(r.header.revision), kvs: r.kvs.map((kv) => [kv.key.toString(), kv.value.toString(), String(kv.mod_revision)]) };
}

function expectExit(r: CliResult, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** No stack traces, ever, for expected failures. */
function noStack(r: CliResult): void {
  assert.doesNotMatch(r.stderr, /^\s+at .+\(.*:\d+:\d+\)$/m, `stack trace on stderr:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /node:internal|\.js:\d+/, `internal location on stderr:\n${r.stderr}`);
}

/** Run a command that must be refused: exit code, one clear error, --json error doc, nothing written. */
async function refused(args: string[], code: number, message: RegExp, errorCode?: string): Promise<void> {
  const before = await snapshot();
  const human = await cli(args);
  expectExit(human, code, args.join(' '));
  noStack(human);
  assert.equal(human.stdout, '', `nothing on stdout for a refused command: ${human.stdout}`);
  assert.match(human.stderr, /^Error: /);
  assert.match(human.stderr, message);
  const json = await cli([...args, '--json']);
  expectExit(json, code, `${args.join(' ')} --json`);
  noStack(json);
  const doc = json.json<{ error: { code: string; message: string; exitCode: number } }>();
  assert.deepEqual(Object.keys(doc), ['error']);
  assert.equal(doc.error.exitCode, code);
  assert.equal(typeof doc.error.code, 'string');
  assert.match(doc.error.message, message);
  if (errorCode) assert.equal(doc.error.code, errorCode);
  const afterSnap = await snapshot();
  assert.deepEqual(afterSnap, before, `${args.join(' ')} wrote to etcd`);
}

before(async () => {
  etcd = await startTestEtcd();
  client = new Etcd3({ hosts: etcd.endpoint });
  cli = cliFor(etcd.endpoint, CLUSTER);
});

after(async () => {
  client?.close();
  await etcd?.destroy();
});

describe('alluxio mount: the happy path', () => {
  it('add reports the revision it committed, and the value in etcd is readable JSON', async () => {
    const r = await cli(['mount', 'add', '--path', '/data', '--ufs-uri', 's3://my-bucket/data', '--option', 's3a.accessKeyId=AKIAXYZ', '--option', 's3a.secretKey=hunter2', '--option', 's3a.endpoint=http://h:9000/?a=b', '--json']);
    expectExit(r, 0, 'mount add');
    const doc = r.json();
    assert.deepEqual(Object.keys(doc).sort(), ['mount', 'revision']);
    assert.equal(typeof doc.revision, 'number');
    assert.deepEqual(doc.mount, {
      path: '/data',
      ufsUri: 's3://my-bucket/data/',
      readOnly: false,
      options: { 's3a.accessKeyId': '***', 's3a.secretKey': '***', 's3a.endpoint': 'http://h:9000/?a=b' },
    });
    const kv = await client.get(`${ROOT}config/mounts/data`).exec();
    assert.equal(Number(kv.kvs[0]!.mod_revision), doc.revision, 'reported revision is the commit revision');
    assert.deepEqual(JSON.parse(kv.kvs[0]!.value.toString()), {
      path: '/data',
      ufsUri: 's3://my-bucket/data/',
      readOnly: false,
      options: { 's3a.accessKeyId': 'AKIAXYZ', 's3a.secretKey': 'hunter2', 's3a.endpoint': 'http://h:9000/?a=b' },
    });
    assert.deepEqual(JSON.parse((await client.get(`${ROOT}schema-version`).string())!), { version: 1 });
  });

  it('add --wait with no worker registered says there is nothing to wait for, and why that may not mean nobody serves', async () => {
    const r = await cli(['mount', 'add', '--path', '/nobody', '--ufs-uri', 's3://my-bucket/nobody', '--wait']);
    expectExit(r, 0, 'mount add --wait');
    assert.match(r.stderr, /no worker or FUSE client is registered in etcd: nothing to wait for \(one cut off from etcd is not registered, and serves its old config/);
    expectExit(await cli(['mount', 'remove', '--path', '/nobody', '--yes']), 0, 'mount remove');
  });

  it('add (human) prints one line naming the mount and the revision', async () => {
    const r = await cli(['mount', 'add', '--path', '/local/', '--ufs-uri', 'FILE:///srv/datasets/', '--readonly']);
    expectExit(r, 0, 'mount add --readonly');
    const m = /^Mounted \/local -> file:\/\/\/srv\/datasets\/ \(read-only\) at revision (\d+)\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal((await snapshot()).revision, Number(m[1]));
  });

  it('list --json has exactly the cli.md shape, sorted by path, secrets redacted', async () => {
    const snap = await snapshot();
    const r = await cli(['mount', 'list', '--json']);
    expectExit(r, 0, 'mount list --json');
    assert.equal(r.stderr, '');
    assert.deepEqual(r.json(), {
      revision: snap.revision,
      mounts: [
        { path: '/data', ufsUri: 's3://my-bucket/data/', readOnly: false, options: { 's3a.accessKeyId': '***', 's3a.secretKey': '***', 's3a.endpoint': 'http://h:9000/?a=b' } },
        { path: '/local', ufsUri: 'file:///srv/datasets/', readOnly: true, options: {} },
      ],
    });
  });

  it('list --show-secrets shows the values', async () => {
    const r = await cli(['mount', 'list', '--json', '--show-secrets']);
    expectExit(r, 0, 'mount list --show-secrets');
    assert.deepEqual(r.json().mounts[0].options, { 's3a.accessKeyId': 'AKIAXYZ', 's3a.secretKey': 'hunter2', 's3a.endpoint': 'http://h:9000/?a=b' });
  });

  it('list in a pipe prints plain tab-separated lines, no table, no colour, no secrets', async () => {
    for (const env of [{}, { FORCE_COLOR: '1', NO_COLOR: undefined }]) {
      const r = await cli(['mount', 'list'], { env });
      expectExit(r, 0, 'mount list');
      assert.equal(
        r.stdout,
        '/data\ts3://my-bucket/data/\trw\ts3a.accessKeyId=***,s3a.secretKey=***,s3a.endpoint=http://h:9000/?a=b\n' + '/local\tfile:///srv/datasets/\tro\t-\n',
      );
      assert.doesNotMatch(r.stdout, /hunter2|AKIAXYZ/);
    }
    const shown = await cli(['mount', 'list', '--show-secrets']);
    assert.match(shown.stdout, /s3a\.secretKey=hunter2/);
  });

  it('list on a terminal draws a table', async () => {
    const r = await runInPty(['mount', 'list'], { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: CLUSTER, NO_COLOR: '1', FORCE_COLOR: undefined });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /┌─+┬/);
    assert.match(r.out, /│ PATH\s+│ UFS URI\s+│ MODE │ OPTIONS/);
    assert.match(r.out, /│ \/local\s+│ file:\/\/\/srv\/datasets\/\s+│ ro\s+│ -/);
    assert.doesNotMatch(r.out, /\x1b\[/, 'NO_COLOR: no escape sequences');
    assert.doesNotMatch(r.out, /hunter2/);
    const colored = await runInPty(['mount', 'list'], { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: CLUSTER, NO_COLOR: undefined, FORCE_COLOR: '1' });
    assert.equal(colored.code, 0, colored.out);
    assert.match(colored.out, /\x1b\[1mPATH\x1b\[22m/, 'bold header on a colour terminal');
  });

  it('update: URI, options, remove-option, readonly; reports the revision', async () => {
    let r = await cli(['mount', 'update', '--path', '/data', '--ufs-uri', 's3://other-bucket/data/', '--option', 's3a.region=eu-west-1', '--remove-option', 's3a.endpoint', '--readonly', '--json']);
    expectExit(r, 0, 'mount update');
    const doc = r.json();
    assert.deepEqual(doc.mount, { path: '/data', ufsUri: 's3://other-bucket/data/', readOnly: true, options: { 's3a.accessKeyId': '***', 's3a.secretKey': '***', 's3a.region': 'eu-west-1' } });
    assert.equal(doc.previous.ufsUri, 's3://my-bucket/data/');
    assert.equal(doc.revision, (await snapshot()).revision);
    r = await cli(['mount', 'update', '--path', '/data', '--no-readonly']);
    expectExit(r, 0, 'mount update --no-readonly');
    assert.match(r.stdout, /^Updated \/data -> s3:\/\/other-bucket\/data\/ at revision \d+\n$/);
    const list = (await cli(['mount', 'list', '--json', '--show-secrets'])).json();
    assert.deepEqual(list.mounts[0], { path: '/data', ufsUri: 's3://other-bucket/data/', readOnly: false, options: { 's3a.accessKeyId': 'AKIAXYZ', 's3a.secretKey': 'hunter2', 's3a.region': 'eu-west-1' } });
  });

  it('a segment-aware sibling (s3://b/data vs s3://b/database) is not nesting', async () => {
    expectExit(await cli(['mount', 'add', '--path', '/database', '--ufs-uri', 's3://other-bucket/database']), 0, 'sibling');
  });

  it('remove --yes removes and reports the revision; the key is gone', async () => {
    const r = await cli(['mount', 'remove', '--path', '/database', '--yes', '--json']);
    expectExit(r, 0, 'mount remove --yes');
    const doc = r.json();
    assert.equal(doc.mount.path, '/database');
    assert.equal(doc.revision, (await snapshot()).revision);
    assert.equal((await client.get(`${ROOT}config/mounts/database`).exec()).kvs.length, 0);
    const r2 = await cli(['mount', 'add', '--path', '/tmp1', '--ufs-uri', 's3://other-bucket/tmp1']);
    expectExit(r2, 0, 'add tmp1');
    const r3 = await cli(['mount', 'remove', '--path', '/tmp1', '-y']);
    expectExit(r3, 0, 'remove -y');
    assert.match(r3.stdout, /^Removed \/tmp1 \(was s3:\/\/other-bucket\/tmp1\/\) at revision \d+\n$/);
  });

  it('remove on a terminal asks; "n" cancels (130, nothing written), "y" removes', async () => {
    expectExit(await cli(['mount', 'add', '--path', '/ask', '--ufs-uri', 's3://other-bucket/ask']), 0, 'add ask');
    const env = { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: CLUSTER, NO_COLOR: '1' };
    const beforeNo = await snapshot();
    const no = await runInPty(['mount', 'remove', '--path', '/ask'], env, [{ when: /\(y\/N\)/, type: 'n\r' }]);
    assert.match(no.out, /Remove mount \/ask -> s3:\/\/other-bucket\/ask\/\?/);
    assert.equal(no.code, 130, no.out);
    assert.deepEqual(await snapshot(), beforeNo);
    const yes = await runInPty(['mount', 'remove', '--path', '/ask'], env, [{ when: /\(y\/N\)/, type: 'y\r' }]);
    assert.equal(yes.code, 0, yes.out);
    assert.match(yes.out, /Removed \/ask/);
    assert.equal((await client.get(`${ROOT}config/mounts/ask`).exec()).kvs.length, 0);
  });

  it('remove refuses (3, nothing removed) when the mount was re-pointed while the question was open', async () => {
    expectExit(await cli(['mount', 'add', '--path', '/swap', '--ufs-uri', 's3://other-bucket/swap-a']), 0, 'add swap');
    const env = { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: CLUSTER, NO_COLOR: '1' };
    const r = await runInPty(['mount', 'remove', '--path', '/swap'], env, [
      {
        when: /\(y\/N\)/,
        type: 'y\r',
        // Another admin re-points the mount after the question named swap-a.
        before: async () => expectExit(await cli(['mount', 'update', '--path', '/swap', '--ufs-uri', 's3://other-bucket/swap-b']), 0, 'update swap'),
      },
    ]);
    assert.match(r.out, /Remove mount \/swap -> s3:\/\/other-bucket\/swap-a\/\?/);
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /changed since it was confirmed: it now points at s3:\/\/other-bucket\/swap-b\//);
    const kv = await client.get(`${ROOT}config/mounts/swap`).string();
    assert.ok(kv && JSON.parse(kv).ufsUri === 's3://other-bucket/swap-b/', 'the new binding is still there');
    expectExit(await cli(['mount', 'remove', '--path', '/swap', '--yes']), 0, 'remove swap');
  });

  it('the unmount alias works like remove', async () => {
    expectExit(await cli(['mount', 'add', '--path', '/alias', '--ufs-uri', 's3://other-bucket/alias']), 0, 'add alias');
    expectExit(await cli(['unmount', '--path', '/alias', '--yes']), 0, 'unmount');
  });

  it('clusters are isolated by prefix', async () => {
    const other = cliFor(etcd.endpoint, 'other-cluster');
    expectExit(await other(['mount', 'add', '--path', '/data', '--ufs-uri', 's3://my-bucket/data']), 0, 'other cluster add');
    const mine = (await cli(['mount', 'list', '--json'])).json();
    const theirs = (await other(['mount', 'list', '--json'])).json();
    assert.deepEqual(theirs.mounts.map((m: { path: string }) => m.path), ['/data']);
    assert.equal(theirs.mounts[0].ufsUri, 's3://my-bucket/data/');
    assert.equal(mine.mounts[0].ufsUri, 's3://other-bucket/data/');
  });
});

describe('alluxio mount: bad input is refused with the cli.md exit code and writes nothing', () => {
  // State at this point: /data -> s3://other-bucket/data/ (with secrets), /local -> file:///srv/datasets/ (ro).
  const add = (path: string, uri: string, ...rest: string[]) => ['mount', 'add', '--path', path, '--ufs-uri', uri, ...rest];

  it('root or nested mount path: 2', async () => {
    await refused(add('/', 's3://my-bucket/x'), 2, /root "\/" cannot be a mount point/, 'InvalidMount');
    await refused(add('/a/b', 's3://my-bucket/x'), 2, /is nested; mount points are exactly one segment/, 'InvalidMount');
    await refused(add('data', 's3://my-bucket/x'), 2, /not absolute/, 'InvalidPath');
    await refused(add('/..', 's3://my-bucket/x'), 2, /dot segments/, 'InvalidPath');
    await refused(add('', 's3://my-bucket/x'), 2, /path is empty|empty/);
    await refused(add('/x\u0001', 's3://my-bucket/x'), 2, /control character U\+0001/, 'InvalidPath');
  });

  it('duplicate path: 3', async () => {
    await refused(add('/data', 's3://fresh-bucket/x'), 3, /\/data is already mounted/, 'MountExists');
    await refused(add('/data/', 's3://fresh-bucket/x'), 3, /already mounted/, 'MountExists');
  });

  it('equal or nesting UFS URIs, either way: 3', async () => {
    await refused(add('/copy', 's3://other-bucket/data'), 3, /already mounted at \/data/, 'MountNested');
    await refused(add('/copy', 'S3://other-bucket//data/'), 3, /already mounted at \/data/, 'MountNested');
    await refused(add('/tables', 's3://other-bucket/data/tables'), 3, /would nest/, 'MountNested');
    await refused(add('/bucket', 's3://other-bucket'), 3, /would nest/, 'MountNested');
    await refused(add('/srv', 'file:///srv'), 3, /\/local/, 'MountNested');
  });

  it('malformed or unknown URIs: 2, naming what is wrong and what is allowed', async () => {
    await refused(add('/x', 'ftp://host/x'), 2, /unknown scheme "ftp" \(allowed: file, s3, .*hdfs/, 'InvalidUfsUri');
    await refused(add('/x', '/srv/data'), 2, /not a URI of the form scheme:\/\/authority\/path \(allowed schemes: file, s3/, 'InvalidUfsUri');
    await refused(add('/x', 's3:///nobucket'), 2, /needs an S3 bucket name/, 'InvalidUfsUri');
    await refused(add('/x', 's3://My_Bucket/x'), 2, /is not an S3 bucket name/, 'InvalidUfsUri');
    await refused(add('/x', 's3://my-bucket/x?versionId=1'), 2, /query strings and fragments/, 'InvalidUfsUri');
    await refused(add('/x', 's3://my-bucket/x#f'), 2, /query strings and fragments/, 'InvalidUfsUri');
    await refused(add('/x', 's3://my-bucket/a/../b'), 2, /dot segments/, 'InvalidUfsUri');
    await refused(add('/x', 's3://my-bucket/%2e%2e/b'), 2, /dot segments/, 'InvalidUfsUri');
    await refused(add('/x', 's3://my-bucket/a%2Fb'), 2, /%2F/, 'InvalidUfsUri');
    await refused(add('/x', 's3://my-bucket/%zz'), 2, /malformed percent-encoding/, 'InvalidUfsUri');
    await refused(add('/x', 'file://host/srv'), 2, /takes no host/, 'InvalidUfsUri');
    await refused(add('/x', ''), 2, /empty/);
  });

  it('options: no "=", empty key, empty value: 2', async () => {
    await refused(add('/x', 's3://my-bucket/x', '--option', 'novalue'), 2, /option "novalue" has no "="; write key=value/, 'InvalidOption');
    await refused(add('/x', 's3://my-bucket/x', '--option', '=v'), 2, /option key "" is not allowed/, 'InvalidOption');
    await refused(add('/x', 's3://my-bucket/x', '--option', 'k='), 2, /"k" has an empty value/, 'InvalidOption');
    await refused(add('/x', 's3://my-bucket/x', '--option', 'k=1', '--option', 'k=2'), 2, /given twice/, 'InvalidOption');
    await refused(add('/x', 's3://my-bucket/x', '--option', 's3a.socket.timeout=soon'), 2, /s3a\.socket\.timeout "soon" must be a duration from 1ms to 24h/, 'InvalidOption');
    await refused(add('/x', 's3://my-bucket/x', '--option', 'cache.metadata.ttl=soon'), 2, /cache\.metadata\.ttl "soon" must be a duration/, 'InvalidOption');
    // an s3:// mount's keys: both or neither (aliases counted), on add and on update (/data has both)
    await refused(add('/x', 's3://my-bucket/x', '--option', 's3a.secretKey=s'), 2, /must be given together: the mount would have a secret key without its access key/, 'InvalidOption');
    await refused(add('/x', 's3://my-bucket/x', '--option', 'aws.accessKeyId=AK'), 2, /an access key without its secret key/, 'InvalidOption');
    await refused(['mount', 'update', '--path', '/data', '--remove-option', 's3a.secretKey'], 2, /an access key without its secret key/, 'InvalidOption');
  });

  it('flag errors are usage errors: 2', async () => {
    await refused(['mount', 'add', '--path', '/x'], 2, /Missing required flag ufs-uri/);
    await refused(['mount', 'add', '--path', '/x', '--ufs-uri', 's3://my-bucket/x', '--bogus'], 2, /Nonexistent flag: --bogus/);
    await refused(['mount', 'list', '--cluster', 'bad/name'], 2, /cluster name "bad\/name" is not allowed/);
    await refused(['mount', 'list', '--etcd-timeout', 'soon'], 2, /--etcd-timeout "soon" is not a duration/);
    await refused(['mount', 'list', '--etcd-timeout', '0'], 2, /--etcd-timeout must be more than 0/);
    // A bad --wait-timeout is refused before the commit, not after it.
    await refused(add('/x', 's3://my-bucket/x', '--wait', '--wait-timeout', 'banana'), 2, /--wait-timeout "banana" is not a duration/);
    await refused(add('/x', 's3://my-bucket/x', '--wait', '--wait-timeout', '0'), 2, /--wait-timeout must be more than 0/);
    await refused(add('/x', 's3://my-bucket/x', '--wait-timeout', '10s'), 2, /--wait-timeout bounds --wait: add --wait/);
    await refused(['mount', 'list', '--etcd-endpoints', 'ftp://h:1'], 2, /must use http:\/\/ or https:\/\//);
  });

  it('update: nothing to change (2), missing mount (4), nesting (3), bad URI (2), unknown option to remove (2)', async () => {
    await refused(['mount', 'update', '--path', '/data'], 2, /nothing to update/);
    await refused(['mount', 'update', '--path', '/nope', '--readonly'], 4, /no mount at \/nope/, 'MountNotFound');
    await refused(['mount', 'update', '--path', '/data', '--ufs-uri', 'file:///srv/datasets/x'], 3, /would nest/, 'MountNested');
    await refused(['mount', 'update', '--path', '/data', '--ufs-uri', 'file:///srv/datasets'], 3, /already mounted at \/local/, 'MountNested');
    await refused(['mount', 'update', '--path', '/data', '--ufs-uri', 'gopher://x/y'], 2, /unknown scheme/, 'InvalidUfsUri');
    await refused(['mount', 'update', '--path', '/data', '--remove-option', 'nope'], 2, /has no option "nope"/, 'InvalidOption');
    await refused(['mount', 'update', '--path', '/data', '--option', 'a=1', '--remove-option', 'a'], 2, /--option and --remove-option both name a/, 'InvalidArgument');
    await refused(['mount', 'update', '--path', '/data', '--option', 'cache.metadata.ttl=-1'], 2, /cache\.metadata\.ttl "-1" must be a duration from 0 to 720h/, 'InvalidOption');
    await refused(['mount', 'update', '--path', '/', '--readonly'], 2, /root/, 'InvalidMount');
  });

  it('remove: missing mount (4), no TTY and no --yes (2)', async () => {
    await refused(['mount', 'remove', '--path', '/nope', '--yes'], 4, /no mount at \/nope/, 'MountNotFound');
    await refused(['mount', 'remove', '--path', '/nope'], 4, /no mount at \/nope/, 'MountNotFound');
    await refused(['mount', 'remove', '--path', '/data'], 2, /Refusing without a terminal to ask on; pass --yes to confirm/, 'ConfirmationRequired');
    await refused(['mount', 'remove', '--path', '/a/b', '--yes'], 2, /nested/, 'InvalidMount');
  });

  it('the refused commands really left the table as it was', async () => {
    const list = (await cli(['mount', 'list', '--json'])).json();
    assert.deepEqual(list.mounts.map((m: { path: string }) => m.path), ['/data', '/local']);
  });
});

describe('alluxio mount: etcd unreachable', () => {
  it('nothing listening: exit 5, one line naming the endpoint, no stack, quickly', async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    for (const args of [['mount', 'list'], ['mount', 'add', '--path', '/x', '--ufs-uri', 's3://my-bucket/x'], ['mount', 'remove', '--path', '/x', '--yes']]) {
      const r = await runCli(args, { env: { ALLUXIO_ETCD_ENDPOINTS: endpoint }, timeoutMs: 20_000 });
      expectExit(r, 5, args.join(' '));
      noStack(r);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^Error: etcd is unreachable at ${endpoint.replace(/[.]/g, '\\.')} .*check that etcd is running and --etcd-endpoints`));
      const j = await runCli([...args, '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: endpoint }, timeoutMs: 20_000 });
      expectExit(j, 5, `${args.join(' ')} --json`);
      // a write says nothing was written (it failed reading the config, before sending anything)
      const write = args[1] !== 'list';
      assert.deepEqual(Object.keys(j.json().error).sort(), write ? ['code', 'details', 'exitCode', 'message'] : ['code', 'exitCode', 'message']);
      if (write) assert.deepEqual(j.json().error.details, { written: false });
      assert.equal(j.json().error.code, 'EtcdUnavailable');
      assert.equal(j.json().error.exitCode, 5);
    }
  });

  it('a server that accepts but never answers: exit 5 after --etcd-timeout, not a hang', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      // The child is killed after 20 s; a hang shows up as exit null instead of 5.
      const r = await runCli(['mount', 'list', '--etcd-timeout', '1s'], { env: { ALLUXIO_ETCD_ENDPOINTS: `127.0.0.1:${port}` }, timeoutMs: 20_000 });
      expectExit(r, 5, 'black hole');
      noStack(r);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      // not "unreachable": the server took the connection; the deadline passed
      assert.match(r.stderr, /^Error: etcd is not answering at http:\/\/127\.0\.0\.1:\d+ \(no answer within 1000 ms; .*: no answer\).*raise --etcd-timeout \(ALLUXIO_ETCD_TIMEOUT, now 1s\)/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('alluxio: help and colour', () => {
  it('alluxio --help shows the topics and examples', async () => {
    const r = await runCli(['--help']);
    expectExit(r, 0, '--help');
    assert.match(r.stdout, /TOPICS[\s\S]*mount/);
    assert.match(r.stdout, /EXAMPLES[\s\S]*\$ alluxio mount add --path \/data --ufs-uri s3:\/\//);
  });

  it('mount add --help shows flags and examples', async () => {
    const r = await runCli(['mount', 'add', '--help']);
    expectExit(r, 0, 'mount add --help');
    for (const f of ['--path', '--ufs-uri', '--option', '--readonly', '--wait', '--wait-timeout', '--json', '--etcd-endpoints', '--cluster', '--etcd-user', '--etcd-ca']) {
      assert.ok(r.stdout.includes(f), `help mentions ${f}`);
    }
    assert.match(r.stdout, /EXAMPLES\n\s+\$ alluxio mount add --path \/data --ufs-uri s3:\/\/my-bucket\/data\//);
    for (const cmd of ['list', 'update', 'remove']) {
      const h = await runCli(['mount', cmd, '--help']);
      expectExit(h, 0, `mount ${cmd} --help`);
      assert.match(h.stdout, new RegExp(`EXAMPLES\\n\\s+\\$ alluxio mount ${cmd}`));
    }
  });

  it('errors are red only when colour is wanted: FORCE_COLOR yes, NO_COLOR wins, pipe default no', async () => {
    const args = ['mount', 'remove', '--path', '/'];
    const forced = await runCli(args, { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expectExit(forced, 2, 'forced');
    assert.ok(forced.stderr.startsWith('\x1b[31mError:\x1b[39m '), JSON.stringify(forced.stderr));
    const both = await runCli(args, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    assert.ok(both.stderr.startsWith('Error: '), JSON.stringify(both.stderr));
    const plain = await runCli(args, { env: { NO_COLOR: undefined, FORCE_COLOR: undefined } });
    assert.ok(plain.stderr.startsWith('Error: '), JSON.stringify(plain.stderr));
    assert.doesNotMatch(plain.stderr + plain.stdout, /\x1b\[/);
    const off = await runCli(args, { env: { NO_COLOR: undefined, FORCE_COLOR: '0' } });
    assert.doesNotMatch(off.stderr, /\x1b\[/);
  });

  it('--json output is one JSON document even with FORCE_COLOR', async () => {
    const r = await cli(['mount', 'list', '--json'], { env: { FORCE_COLOR: '3', NO_COLOR: undefined } });
    expectExit(r, 0, 'list --json');
    assert.doesNotMatch(r.stdout, /\x1b\[/);
    assert.ok(Array.isArray(r.json().mounts));
  });
});

describe('alluxio mount: what an operator may have put there by hand', () => {
  it('malformed values are reported on stderr and skipped; the rest is listed, stdout stays one JSON document', async () => {
    const other = cliFor(etcd.endpoint, 'hand-edited');
    expectExit(await other(['mount', 'add', '--path', '/good', '--ufs-uri', 's3://my-bucket/good']), 0, 'add good');
    await client.put('/alluxio/hand-edited/config/mounts/broken').value('{not json');
    await client.put('/alluxio/hand-edited/config/mounts/nested').value(JSON.stringify({ path: '/a/b', ufsUri: 's3://my-bucket/ab/', readOnly: false, options: {} }));
    await client.put('/alluxio/hand-edited/config/mounts/elsewhere').value(JSON.stringify({ path: '/other', ufsUri: 's3://my-bucket/o/', readOnly: false, options: {} }));
    const r = await other(['mount', 'list', '--json']);
    expectExit(r, 0, 'list with malformed entries');
    assert.deepEqual(r.json().mounts.map((m: { path: string }) => m.path), ['/good']);
    const warnings = r.stderr.trimEnd().split('\n');
    assert.equal(warnings.length, 3, r.stderr);
    for (const key of ['broken', 'nested', 'elsewhere']) assert.ok(warnings.some((w) => w.startsWith(`warning: skipping malformed entry /alluxio/hand-edited/config/mounts/${key}: `)), `${key}: ${r.stderr}`);
    // a write still validates against the valid entries
    expectExit(await other(['mount', 'add', '--path', '/good2', '--ufs-uri', 's3://my-bucket/good/x']), 3, 'nesting with a valid entry');
    // a malformed value is not "not found": exit 3 naming --force, which removes it
    const refused = await other(['mount', 'remove', '--path', '/broken', '--yes']);
    expectExit(refused, 3, 'remove a malformed value without --force');
    assert.match(refused.stderr, /malformed .*--force/);
    expectExit(await other(['mount', 'remove', '--path', '/broken', '--yes', '--force']), 0, 'remove --force');
    expectExit(await other(['mount', 'remove', '--path', '/nowhere', '--yes', '--force']), 4, 'nothing there');
    assert.equal((await client.get('/alluxio/hand-edited/config/mounts/broken').string()), null, 'the malformed value is gone');
    assert.deepEqual((await other(['mount', 'list', '--json'])).json().mounts.map((m: { path: string }) => m.path), ['/good']);
  });

  it('a mount stored with a bad cache.metadata.ttl (before writes checked it) is listed and updatable; a new bad value is refused', async () => {
    const other = cliFor(etcd.endpoint, 'old-ttl');
    await client.put('/alluxio/old-ttl/config/mounts/old').value(JSON.stringify({ path: '/old', ufsUri: 's3://my-bucket/old/', readOnly: false, options: { 'cache.metadata.ttl': 'soon' } }));
    const listed = await other(['mount', 'list', '--json']);
    expectExit(listed, 0, 'list');
    assert.deepEqual(listed.json().mounts[0].options, { 'cache.metadata.ttl': 'soon' });
    expectExit(await other(['mount', 'update', '--path', '/old', '--readonly']), 0, 'an update that leaves the option alone');
    const refused = await other(['mount', 'update', '--path', '/old', '--option', 'cache.metadata.ttl=later']);
    expectExit(refused, 2, 'a new bad value');
    assert.match(refused.stderr, /cache\.metadata\.ttl "later" must be a duration from 0 to 720h/);
    expectExit(await other(['mount', 'update', '--path', '/old', '--option', 'cache.metadata.ttl=30s']), 0, 'fixed');
    const fixed = await other(['mount', 'list', '--json']);
    assert.deepEqual(fixed.json().mounts[0], { path: '/old', ufsUri: 's3://my-bucket/old/', readOnly: true, options: { 'cache.metadata.ttl': '30s' } });
  });

  it('a cluster written by a newer schema: writes refused with exit 3 naming the versions, nothing written; reads still work', async () => {
    const other = cliFor(etcd.endpoint, 'future');
    expectExit(await other(['mount', 'add', '--path', '/x', '--ufs-uri', 's3://my-bucket/x']), 0, 'add before upgrade');
    await client.put('/alluxio/future/schema-version').value(JSON.stringify({ version: 2 }));
    const before = await snapshot();
    const r = await other(['mount', 'add', '--path', '/y', '--ufs-uri', 's3://my-bucket/y']);
    expectExit(r, 3, 'write to a newer schema');
    assert.match(r.stderr, /schema version 2; this alluxio CLI writes version 1\. Upgrade the CLI/);
    assert.deepEqual(await snapshot(), before);
    const list = await other(['mount', 'list', '--json']);
    expectExit(list, 0, 'read a newer schema');
    assert.deepEqual(list.json().mounts.map((m: { path: string }) => m.path), ['/x']);
  });
});

describe('alluxio mount list: the read path', () => {
  it('reads through the JSON gateway, and falls back to grpc where etcd has none (--enable-grpc-gateway=false)', async () => {
    const plain = await startTestEtcd({ extraArgs: ['--enable-grpc-gateway=false'] });
    try {
      const noGateway = cliFor(plain.endpoint, 'fallback');
      // the gateway really is off: its range endpoint is not there
      const probe = await fetch(`${plain.endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}' });
      assert.equal(probe.status, 404);
      expectExit(await noGateway(['mount', 'add', '--path', '/fb', '--ufs-uri', 's3://my-bucket/fb', '--option', 'secretKey=s']), 0, 'add');
      const list = await noGateway(['mount', 'list', '--json']);
      expectExit(list, 0, 'list via grpc fallback');
      assert.deepEqual(list.json().mounts, [{ path: '/fb', ufsUri: 's3://my-bucket/fb/', readOnly: false, options: { secretKey: '***' } }]);
      assert.equal(list.stderr, '');
    } finally {
      await plain.destroy();
    }
  });

  it('gateway and grpc reads agree on the same state (keys with non-ASCII names included)', async () => {
    expectExit(await cli(['mount', 'add', '--path', '/数据', '--ufs-uri', 's3://my-bucket/数据/ü b']), 0, 'add unicode');
    const list = (await cli(['mount', 'list', '--json', '--show-secrets'])).json();
    const raw = await client.getAll().prefix(`${ROOT}config/mounts/`).strings();
    const viaClient = Object.values(raw).map((v) => JSON.parse(v)).sort((a, b) => (a.path < b.path ? -1 : 1));
    assert.deepEqual(list.mounts, viaClient);
    assert.ok(list.mounts.some((m: { path: string; ufsUri: string }) => m.path === '/数据' && m.ufsUri === 's3://my-bucket/%E6%95%B0%E6%8D%AE/%C3%BC%20b/'));
    assert.equal(list.revision, (await snapshot()).revision);
  });
});
