/**
 * `alluxio path-mapping ...` through the real CLI against a real etcd: add (prefix and
 * regex, generated ids, default orders), validation exit codes, list shape, update in
 * place (the /model/latest -> v3 -> v4 story), enable/disable, remove (confirmation, 4 on
 * unknown ids), test, and Alluxio's path_mapping.json import (all or nothing) / export.
 * Each test uses its own cluster name, so they share one etcd without interfering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor, PATIENT_ETCD } from '../helpers/cli.js';

const execFileP = promisify(execFile);
let etcd: TestEtcd;
let dir: string;

before(async () => {
  etcd = await startTestEtcd();
  dir = mkdtempSync(join(tmpdir(), 'alluxio-test-pm-'));
});
after(async () => {
  await etcd?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function cluster() {
  const name = `pm${++n}`;
  return cliFor(etcd.endpoint, name, PATIENT_ETCD);
}

describe('path-mapping add / list', () => {
  it('adds prefix and regex rules; list --json has the documented shape in evaluation order', async () => {
    const cli = cluster();
    assert.equal((await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/'])).code, 0);
    const a = await cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/model/v3', '--id', 'model-latest', '--json']);
    assert.equal(a.code, 0, a.stderr);
    const added = a.json();
    assert.equal(typeof added.revision, 'number');
    assert.deepEqual(added.rule, { id: 'model-latest', order: 10, kind: 'prefix', src: '/model/latest', dst: '/model/v3', enabled: true });
    assert.equal(a.stderr, '', 'no warning: the target is mounted');

    const b = await cli(['path-mapping', 'add', '--src', '^/team-(\\w+)/(.*)$', '--dst', '/model/teams/{{ var1 }}/{{ var2 }}', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const gen = b.json().rule;
    assert.match(gen.id, /^r-[0-9a-z]{6}$/);
    assert.equal(gen.order, 20, 'default order: largest + 10');

    const c = await cli(['path-mapping', 'add', '--from', '/first', '--to', '/model/first', '--order', '5', '--exclude', '/first/tmp(/.*)?', '--id', 'first']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /Added rule first \(order 5, prefix\)/);

    const list = await cli(['path-mapping', 'list', '--json']);
    assert.equal(list.code, 0);
    const doc = list.json();
    assert.ok(doc.revision >= b.json().revision);
    assert.deepEqual(doc.rules.map((r: { id: string }) => r.id), ['first', 'model-latest', gen.id]);
    assert.deepEqual(doc.rules[0], { id: 'first', order: 5, kind: 'prefix', src: '/first', dst: '/model/first', exclude: '/first/tmp(/.*)?', enabled: true });
    assert.deepEqual(Object.keys(doc.rules[2]).sort(), ['dst', 'enabled', 'id', 'kind', 'order', 'src']);

    const plain = await cli(['path-mapping', 'list']);
    assert.equal(plain.stdout.trim().split('\n').length, 3);
    assert.match(plain.stdout.split('\n')[1]!, /^10\tmodel-latest\tprefix\t\/model\/latest\t\/model\/v3\t-\tenabled$/);
  });

  it('refuses invalid rules with exit 2 and duplicate ids with exit 3, writing nothing', async () => {
    const cli = cluster();
    const cases: [string[], number, RegExp][] = [
      [['--src', '^/x/(a', '--dst', '/y'], 2, /RE2/],
      [['--src', '^/(a)\\1$', '--dst', '/y'], 2, /RE2/],
      [['--src', '^/x/(.*)$', '--dst', '/y/{{ var2 }}'], 2, /var2/],
      [['--src', '^/x/(?<rest>.*)$', '--dst', '/y/{{ other }}'], 2, /other/],
      [['--from', '/a/', '--to', '/b'], 2, /not canonical; write "\/a"/],
      [['--from', '/a', '--to', '/b/../c'], 2, /not a valid Alluxio path/],
      [['--from', '/a', '--to', '/b', '--exclude', '(x'], 2, /exclude/],
      [['--from', '/a', '--to', '/b', '--id', 'no/slash'], 2, /id/],
      [['--id', 'x'], 2, /--from and --to|--src and --dst/],
      [['--from', '/a', '--to', '/b', '--src', '^/a$', '--dst', '/b'], 2, /cannot also be provided|--src/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(['path-mapping', 'add', ...args, '--json'])));
    results.forEach((r, i) => {
      assert.equal(r.code, cases[i]![1], `${cases[i]![0].join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.json().error.message, cases[i]![2]);
    });
    assert.equal((await cli(['path-mapping', 'add', '--from', '/a', '--to', '/b', '--id', 'dup'])).code, 0);
    const dup = await cli(['path-mapping', 'add', '--from', '/c', '--to', '/d', '--id', 'dup', '--json']);
    assert.equal(dup.code, 3);
    assert.equal(dup.json().error.code, 'RuleExists');
    assert.match(dup.json().error.message, /path-mapping update --id dup/);
    const list = (await cli(['path-mapping', 'list', '--json'])).json();
    assert.deepEqual(list.rules.map((r: { id: string; src: string }) => [r.id, r.src]), [['dup', '/a']]);
  });

  it('accepts a rule whose target is in no mount, with a warning on stderr', async () => {
    const cli = cluster();
    const r = await cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/nowhere/v3', '--json']);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /warning: .*\/nowhere\/v3 is in no mount/);
    assert.equal(r.json().warnings.length, 1);
    assert.doesNotThrow(() => r.json(), 'stdout stays one JSON document');
  });
});

describe('the /model/latest story: v3, then v4, in place', () => {
  it('update --to moves the alias in one command; test shows each step', async () => {
    const cli = cluster();
    await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/']);
    await cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/model/v3', '--id', 'latest']);
    const t1 = await cli(['path-mapping', 'test', '/model/latest/config.json', '--json']);
    assert.equal(t1.code, 0);
    assert.equal(t1.json().ufsUri, 's3://models/m/v3/config.json');
    assert.deepEqual(t1.json().rule, { id: 'latest', kind: 'prefix' });

    const up = await cli(['path-mapping', 'update', '--id', 'latest', '--to', '/model/v4', '--json']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.json().rule.dst, '/model/v4');
    assert.equal(up.json().previous.dst, '/model/v3');
    assert.equal(up.json().rule.order, 10, 'keeps its order');
    const t2 = (await cli(['path-mapping', 'test', '/model/latest/config.json', '--json'])).json();
    assert.equal(t2.ufsUri, 's3://models/m/v4/config.json');
    assert.ok(t2.revision >= up.json().revision);

    const human = await cli(['path-mapping', 'test', '/model/latest/config.json']);
    assert.match(human.stdout, /\/model\/latest\/config.json -> \/model\/v4\/config.json \(rule latest\)/);
    assert.match(human.stdout, /UFS URI: s3:\/\/models\/m\/v4\/config.json/);

    const unknown = await cli(['path-mapping', 'update', '--id', 'nope', '--to', '/model/v5', '--json']);
    assert.equal(unknown.code, 4);
    const nothing = await cli(['path-mapping', 'update', '--id', 'latest']);
    assert.equal(nothing.code, 2);
    const bad = await cli(['path-mapping', 'update', '--id', 'latest', '--to', 'model/v5']);
    assert.equal(bad.code, 2);
  });
});

describe('enable / disable / remove', () => {
  it('disable skips a rule, enable restores it, remove asks and exits 4 on unknown ids', async () => {
    const cli = cluster();
    await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/']);
    await cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/model/v3', '--id', 'latest']);
    const d = await cli(['path-mapping', 'disable', '--id', 'latest', '--json']);
    assert.equal(d.code, 0);
    assert.equal(d.json().rule.enabled, false);
    let t = (await cli(['path-mapping', 'test', '/model/latest/x', '--json'])).json();
    assert.equal(t.rule, null);
    assert.equal(t.ufsUri, 's3://models/m/latest/x');
    assert.equal((await cli(['path-mapping', 'list'])).stdout.includes('disabled'), true);
    assert.equal((await cli(['path-mapping', 'enable', '--id', 'latest'])).code, 0);
    t = (await cli(['path-mapping', 'test', '/model/latest/x', '--json'])).json();
    assert.equal(t.rule.id, 'latest');
    assert.equal((await cli(['path-mapping', 'enable', '--id', 'ghost'])).code, 4);

    const refuse = await cli(['path-mapping', 'remove', '--id', 'latest']);
    assert.equal(refuse.code, 2, 'no TTY and no --yes: refuse');
    assert.match(refuse.stderr, /--yes/);
    const unknown = await cli(['path-mapping', 'remove', '--id', 'ghost', '--yes', '--json']);
    assert.equal(unknown.code, 4);
    assert.equal(unknown.json().error.code, 'RuleNotFound');
    const rm = await cli(['path-mapping', 'remove', '--id', 'latest', '--yes', '--json']);
    assert.equal(rm.code, 0);
    assert.equal(rm.json().rule.id, 'latest');
    assert.deepEqual((await cli(['path-mapping', 'list', '--json'])).json().rules, []);
  });

  it('a malformed value in etcd is skipped with a warning, and remove --force deletes it', async () => {
    const name = `pm${++n}`;
    const cli = cliFor(etcd.endpoint, name);
    await cli(['path-mapping', 'add', '--from', '/a', '--to', '/b', '--id', 'good']);
    await execFileP('etcdctl', ['--endpoints', etcd.endpoint, 'put', `/alluxio/${name}/config/rules/broken`, '{"id":"broken","kind":"regex","src":"(a","dst":"/x","order":1}']);
    const list = await cli(['path-mapping', 'list', '--json']);
    assert.equal(list.code, 0);
    assert.deepEqual(list.json().rules.map((r: { id: string }) => r.id), ['good']);
    assert.match(list.stderr, /skipping malformed rule .*broken.*RE2/);
    const dupe = await cli(['path-mapping', 'add', '--from', '/c', '--to', '/d', '--id', 'broken']);
    assert.equal(dupe.code, 3, 'the id is taken by the malformed value');
    const refused = await cli(['path-mapping', 'remove', '--id', 'broken', '--yes', '--json']);
    assert.equal(refused.code, 3, 'a value is there: not "not found" (4)');
    assert.match(refused.json().error.message, /malformed .*remove it with --force/);
    const forced = await cli(['path-mapping', 'remove', '--id', 'broken', '--yes', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const { stdout } = await execFileP('etcdctl', ['--endpoints', etcd.endpoint, 'get', '--prefix', '--keys-only', `/alluxio/${name}/config/rules/`]);
    assert.deepEqual(stdout.split('\n').filter(Boolean), [`/alluxio/${name}/config/rules/good`]);
  });
});

describe("import / export (Alluxio's path_mapping.json)", () => {
  const file = {
    rules: [
      { src: '^/model/latest/(.*)$', dst: '/model/v3/{{ var1 }}' },
      { src: '^/team-(\\w+)/(?<rest>.*)$', dst: '/model/teams/{{ var1 }}/{{ rest }}' },
    ],
    virtualDirectories: ['/model/latest'],
  };

  it('imports ordered regex rules in one transaction, and export round-trips', async () => {
    const cli = cluster();
    await cli(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/']);
    await cli(['path-mapping', 'add', '--from', '/old', '--to', '/model/old', '--id', 'old']);
    const path = join(dir, 'pm-ok.json');
    writeFileSync(path, JSON.stringify(file));
    const imp = await cli(['path-mapping', 'import', path, '--json']);
    assert.equal(imp.code, 0, imp.stderr);
    assert.deepEqual(imp.json().rules.map((r: { id: string; order: number; kind: string }) => [r.id, r.order, r.kind]), [['import-1', 20, 'regex'], ['import-2', 30, 'regex']]);
    const t = (await cli(['path-mapping', 'test', '/team-ml/a/b.csv', '--json'])).json();
    assert.equal(t.ufsUri, 's3://models/m/teams/ml/a/b.csv');
    assert.deepEqual(t.rule.captures, { var1: 'ml', var2: 'a/b.csv', rest: 'a/b.csv' });
    // a regex rule written by hand in the shape export gives prefix rules (the CLI probe of
    // 2026-12-02: it came back as a prefix rule, its source a virtual directory)
    assert.equal((await cli(['path-mapping', 'add', '--src', '^/opt(/.*)?$', '--dst', '/model{{ var1 }}', '--id', 'opt'])).code, 0);

    const exp = await cli(['path-mapping', 'export']);
    assert.equal(exp.code, 0);
    const exported = JSON.parse(exp.stdout);
    assert.deepEqual(exported.rules, [{ src: '^/old(/.*)?$', dst: '/model/old{{ var1 }}' }, ...file.rules, { src: '^/opt(/.*)?$', dst: '/model{{ var1 }}' }]);
    assert.deepEqual(exported.virtualDirectories, ['/model', '/model/latest', '/old']);

    // Round trip into a fresh cluster: the same paths resolve the same way.
    const other = cluster();
    await other(['mount', 'add', '--path', '/model', '--ufs-uri', 's3://models/m/']);
    const again = await other(['path-mapping', 'import', '-', '--json'], { input: exp.stdout });
    assert.equal(again.code, 0, again.stderr);
    for (const p of ['/old/x', '/old', '/opt/a', '/model/latest/c.json', '/team-a/b', '/oldx/y']) {
      const [x, y] = await Promise.all([cli(['resolve', p, '--json']), other(['resolve', p, '--json'])]);
      assert.equal(y.code, x.code, p);
      assert.equal(y.json().ufsUri, x.json().ufsUri, p);
    }
    // The prefix rule came back as one (export wrote it in its regex form), so its virtual
    // directory too: exporting again gives the same file, byte for byte.
    assert.deepEqual(again.json().rules.map((r: { kind: string; src: string }) => `${r.kind} ${r.src}`), ['prefix /old', `regex ${file.rules[0]!.src}`, `regex ${file.rules[1]!.src}`, 'regex ^/opt(/.*)?$']);
    const exp2 = await other(['path-mapping', 'export']);
    assert.equal(exp2.stdout, exp.stdout);
  });

  it('a file that is not JSON, not the shape, or holds one bad rule imports nothing (exit 2)', async () => {
    const cli = cluster();
    await cli(['path-mapping', 'add', '--from', '/keep', '--to', '/kept', '--id', 'keep']);
    const before = (await cli(['path-mapping', 'list', '--json'])).json();
    const bad: [string, string, RegExp][] = [
      ['not-json.json', '{"rules": [', /not valid JSON/],
      ['shape.json', '{"mappings": []}', /"rules"/],
      ['rule-shape.json', '{"rules": [{"source": "/a"}]}', /rules\[0\]/],
      ['bad-rule.json', JSON.stringify({ rules: [file.rules[0], { src: '^/x/(a', dst: '/y' }] }), /rules\[1\].*RE2/],
      ['bad-var.json', JSON.stringify({ rules: [file.rules[0], { src: '^/x/(.*)$', dst: '/y/{{ var3 }}' }] }), /var3/],
    ];
    for (const [name, text, msg] of bad) {
      const path = join(dir, name);
      writeFileSync(path, text);
      const r = await cli(['path-mapping', 'import', path, '--json']);
      assert.equal(r.code, 2, `${name}: ${r.stdout}`);
      assert.match(r.json().error.message, msg);
    }
    const missing = await cli(['path-mapping', 'import', join(dir, 'does-not-exist.json')]);
    assert.equal(missing.code, 2);
    const afterList = (await cli(['path-mapping', 'list', '--json'])).json();
    assert.deepEqual(afterList.rules, before.rules, 'nothing imported');
    assert.equal(afterList.revision, before.revision, 'nothing written at all');
  });

  it('--replace swaps every rule in the same transaction (asks first)', async () => {
    const cli = cluster();
    await cli(['path-mapping', 'add', '--from', '/gone', '--to', '/x', '--id', 'gone']);
    const path = join(dir, 'pm-replace.json');
    writeFileSync(path, JSON.stringify(file));
    assert.equal((await cli(['path-mapping', 'import', path, '--replace'])).code, 2, 'no TTY, no --yes');
    const r = await cli(['path-mapping', 'import', path, '--replace', '--yes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json().removed, ['gone']);
    const ids = (await cli(['path-mapping', 'list', '--json'])).json().rules.map((x: { id: string }) => x.id);
    assert.deepEqual(ids, ['import-1', 'import-2']);
    // Again, the same ids: each is deleted and created in one transaction (etcd refused a
    // transaction naming a key twice: "duplicate key given in txn request", exit 1).
    const other = join(dir, 'pm-replace-2.json');
    writeFileSync(other, JSON.stringify({ rules: [file.rules[1], { src: '^/other/(.*)$', dst: '/elsewhere/{{ var1 }}' }] }));
    const again = await cli(['path-mapping', 'import', other, '--replace', '--yes', '--json']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(again.json().removed, ['import-1', 'import-2']);
    const now = (await cli(['path-mapping', 'list', '--json'])).json().rules.map((x: { id: string; src: string }) => `${x.id} ${x.src}`);
    assert.deepEqual(now, [`import-1 ${file.rules[1]!.src}`, 'import-2 ^/other/(.*)$']);
  });

  it('a change that changes nothing writes nothing: no revision, no history record', async () => {
    const cli = cluster();
    const add = await cli(['path-mapping', 'add', '--from', '/same', '--to', '/same-v1', '--id', 'same', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const disabled = await cli(['path-mapping', 'disable', '--id', 'same', '--json']);
    assert.equal(disabled.code, 0, disabled.stderr);
    const head = async (): Promise<number> => (await cli(['history', '--json'])).json().revision;
    const records = async (): Promise<number> => (await cli(['history', '--json'])).json().entries.length;
    const [rev0, n0] = [await head(), await records()];
    for (const args of [
      ['path-mapping', 'disable', '--id', 'same'],
      ['path-mapping', 'update', '--id', 'same', '--to', '/same-v1'],
    ]) {
      const r = await cli([...args, '--json']);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.json().changed, false, `${args.join(' ')} says it changed nothing`);
    }
    assert.equal(await head(), rev0, 'etcd revision unchanged');
    assert.equal(await records(), n0, 'no history record');
    // Lists report the config revision, as resolve/test and the no-op change do (resolution.md §6)
    const listed = (await cli(['path-mapping', 'list', '--json'])).json().revision;
    assert.equal(listed, disabled.json().revision);
    assert.equal((await cli(['path-mapping', 'test', '/same/x', '--json'])).json().revision, listed);
    assert.equal((await cli(['mount', 'list', '--json'])).json().revision, listed);
    // --sample checks a dry run; without --dry-run it is refused (it was ignored, and the change written)
    const sample = join(dir, 'sample.txt');
    writeFileSync(sample, '/same/x\n');
    const r = await cli(['path-mapping', 'update', '--id', 'same', '--to', '/same-v2', '--sample', sample, '--json']);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.json().error.message, /--sample checks a dry run: add --dry-run/);
    assert.equal(await head(), rev0, 'nothing written');
  });
});
