/**
 * Guided input: `alluxio mount add` on a terminal asks for the flags left out, checks each
 * answer as it is typed (a bad one keeps the question open with the reason), and commits
 * the same change the flags would; without a terminal, or with --json, the missing flag is
 * the usual usage error (exit 2) and nothing is asked or written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const etcdPut = (key: string, value: string): Promise<unknown> => promisify(execFile)('etcdctl', ['--endpoints', etcd.endpoint, 'put', key, value], { env: { ...process.env, ETCDCTL_API: '3' } });

let etcd: TestEtcd;
let cli: ReturnType<typeof cliFor>;
let env: Record<string, string | undefined>;

before(async () => {
  etcd = await startTestEtcd();
  cli = cliFor(etcd.endpoint);
  env = { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: 'default', NO_COLOR: '1' };
});
after(async () => {
  await etcd?.destroy();
});

describe('mount add on a terminal', () => {
  it('asks for --path and --ufs-uri, refusing bad answers as they are typed', async () => {
    assert.equal((await cli(['mount', 'add', '--path', '/taken', '--ufs-uri', 'file:///srv/taken/'])).code, 0);
    const r = await runInPty(['mount', 'add', '--readonly'], env, [
      { when: /Alluxio path to mount at/, type: 'a/b\r' },
      { when: /path "a\/b" is not absolute/, type: '\x15/taken\r' },
      { when: /already mounted/, type: '\x15/fresh\r' },
      { when: /UFS URI for \/fresh/, type: 'ftp://nope\r' },
      { when: /unknown scheme "ftp"/, type: '\x15file:///srv/fresh/\r' },
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Mounted \/fresh -> file:\/\/\/srv\/fresh\/ \(read-only\) at revision \d+/);
    const list = (await cli(['mount', 'list', '--json'])).json();
    assert.deepEqual(list.mounts.find((m: any) => m.path === '/fresh'), { path: '/fresh', ufsUri: 'file:///srv/fresh/', readOnly: true, options: {} });
  });

  it('Ctrl-C at the question is 130 and writes nothing', async () => {
    const before = (await cli(['mount', 'list', '--json'])).json().revision;
    const r = await runInPty(['mount', 'add'], env, [{ when: /Alluxio path to mount at/, type: '\x03' }]);
    assert.equal(r.code, 130, r.out);
    assert.equal((await cli(['mount', 'list', '--json'])).json().revision, before);
  });

  it('without a terminal or with --json: the usage error for the missing flag (2), nothing asked', async () => {
    const plain = await cli(['mount', 'add', '--path', '/x']);
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /Missing required flag ufs-uri/);
    const json = await runInPty(['mount', 'add', '--json'], env);
    assert.equal(json.code, 2, json.out);
    assert.match(json.out, /Missing required flag path/);
    assert.doesNotMatch(json.out, /Alluxio path to mount at/);
  });
});

describe('path-mapping remove on a terminal', () => {
  it('refuses (3, nothing removed) when the rule changed while the question was open', async () => {
    // (the CLI probe of 2026-12-02: it removed the rule as updated meanwhile, exit 0)
    assert.equal((await cli(['mount', 'add', '--path', '/d1', '--ufs-uri', 'file:///srv/d1/'])).code, 0);
    assert.equal((await cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/d1/v4', '--id', 'ml'])).code, 0);
    const r = await runInPty(['path-mapping', 'remove', '--id', 'ml'], env, [
      {
        when: /\(y\/N\)/,
        type: 'y\r',
        // another admin points the rule elsewhere after the question named /d1/v4
        before: async () => assert.equal((await cli(['path-mapping', 'update', '--id', 'ml', '--to', '/d1/v3'])).code, 0),
      },
    ]);
    assert.match(r.out, /Remove rule ml \(order \d+, prefix\): \/model\/latest -> \/d1\/v4\?/);
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /rule ml changed since it was confirmed: it is now ml \(order \d+, prefix\): \/model\/latest -> \/d1\/v3/);
    const rules = (await cli(['path-mapping', 'list', '--json'])).json().rules;
    assert.equal(rules.find((x: any) => x.id === 'ml')?.dst, '/d1/v3', 'the updated rule is still there');
    assert.equal((await cli(['path-mapping', 'remove', '--id', 'ml', '--yes'])).code, 0);
  });
});

describe('revert on a terminal', () => {
  it('lists the changes and asks: "n" writes nothing (130), --yes does not ask; without a terminal it goes ahead', async () => {
    const base = (await cli(['mount', 'add', '--path', '/keep', '--ufs-uri', 'file:///srv/keep/', '--json'])).json().revision;
    await cli(['mount', 'add', '--path', '/extra', '--ufs-uri', 'file:///srv/extra/', '--json']);
    const before = (await cli(['mount', 'list', '--json'])).json();
    const no = await runInPty(['revert', '--to', String(base)], env, [{ when: /Revert to the config of revision \d+: 1 change\(s\), 1 removal\(s\)\?/, type: 'n\r' }]);
    assert.equal(no.code, 130, no.out);
    assert.match(no.out, /- mount \/extra/);
    assert.deepEqual((await cli(['mount', 'list', '--json'])).json(), before, 'nothing written');
    const yes = await runInPty(['revert', '--to', String(base), '--yes'], env);
    assert.equal(yes.code, 0, yes.out);
    assert.doesNotMatch(yes.out, /\?/);
    const paths = async (): Promise<string[]> => (await cli(['mount', 'list', '--json'])).json().mounts.map((m: any) => m.path);
    assert.ok((await paths()).includes('/keep') && !(await paths()).includes('/extra'));
    // scripts run it as `revert --to REV` (no terminal): no question
    const back = await cli(['revert', '--to', String(before.revision), '--json']);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await paths(), before.mounts.map((m: any) => m.path));
  });
});

describe('remove --force of a malformed value on a terminal', () => {
  it('refuses (3, nothing removed) when a valid entry was stored under the name while the question was open', async () => {
    // (the CLI probe of 2026-12-02: --force removed whatever was there by then, unconfirmed)
    assert.equal((await cli(['mount', 'add', '--path', '/m1', '--ufs-uri', 'file:///srv/m1/'])).code, 0);
    await etcdPut('/alluxio/default/config/rules/fixme', '{"id":"fixme","kind":"regex","src":"(a","dst":"/x","order":1}');
    const rule = await runInPty(['path-mapping', 'remove', '--id', 'fixme', '--force'], env, [
      {
        when: /\(y\/N\)/,
        type: 'y\r',
        // another admin repairs it meanwhile (remove --force, then add under the same id)
        before: async () => {
          assert.equal((await cli(['path-mapping', 'remove', '--id', 'fixme', '--force', '--yes'])).code, 0);
          assert.equal((await cli(['path-mapping', 'add', '--from', '/m1/latest', '--to', '/m1/v2', '--id', 'fixme'])).code, 0);
        },
      },
    ]);
    assert.match(rule.out, /Remove the malformed value of rule fixme\?/);
    assert.equal(rule.code, 3, rule.out);
    assert.match(rule.out, /rule fixme is no longer malformed: it is now fixme \(order \d+, prefix\): \/m1\/latest -> \/m1\/v2; nothing removed/);
    assert.ok((await cli(['path-mapping', 'list', '--json'])).json().rules.some((x: any) => x.id === 'fixme'), 'the repaired rule is still there');

    await etcdPut('/alluxio/default/config/mounts/m2', '{"path":"/m2","ufsUri":"ftp://broken"}');
    const mount = await runInPty(['mount', 'remove', '--path', '/m2', '--force'], env, [
      {
        when: /\(y\/N\)/,
        type: 'y\r',
        before: async () => {
          assert.equal((await cli(['mount', 'remove', '--path', '/m2', '--force', '--yes'])).code, 0);
          assert.equal((await cli(['mount', 'add', '--path', '/m2', '--ufs-uri', 'file:///srv/m2/'])).code, 0);
        },
      },
    ]);
    assert.match(mount.out, /Remove the malformed value stored for mount \/m2\?/);
    assert.equal(mount.code, 3, mount.out);
    assert.match(mount.out, /mount \/m2 is no longer malformed: it now points at file:\/\/\/srv\/m2\/; nothing removed/);
    assert.ok((await cli(['mount', 'list', '--json'])).json().mounts.some((m: any) => m.path === '/m2'), 'the new mount is still there');
  });
});
