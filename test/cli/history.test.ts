/**
 * Config history, diff, revert and --dry-run against a real etcd and the real CLI:
 * every change and its history record commit together (checked against etcd's own MVCC
 * under racing writers), revert across a mount update, a rule removal and a migration
 * cutover, revert refused (3) when the config moved on after it was read, dry runs that
 * write nothing and report the right impact on a generated table.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor, RUN } from '../helpers/cli.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { revertTo } from '../../src/control/history.js';
import { Snapshot } from '../../src/domain/snapshot.js';
import { parseMount } from '../../src/domain/mounts.js';
import { prefixAsRegex, type RuleSpec } from '../../src/domain/rules.js';
import { populate, startMigEnv, waitStatus, type MigEnv } from '../migrate/env.js';

const execFileP = promisify(execFile);

let etcd: TestEtcd;
let cli: ReturnType<typeof cliFor>;
let dir: string;

async function etcdJson(args: string[]): Promise<any> {
  const { stdout } = await execFileP('etcdctl', ['--endpoints', etcd.endpoint, ...args, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  return JSON.parse(stdout);
}
const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** key -> value of a prefix at a revision (etcd's own MVCC, independent of our code). */
async function prefixAt(prefix: string, rev?: number): Promise<Map<string, string>> {
  const doc = await etcdJson(['get', '--prefix', prefix, ...(rev ? [`--rev=${rev}`] : [])]);
  return new Map((doc.kvs ?? []).map((kv: any) => [b64(kv.key), b64(kv.value)]));
}
async function headRevision(): Promise<number> {
  return Number((await etcdJson(['get', 'x'])).header.revision);
}
function ok(r: { code: number | null; stderr: string; stdout: string }, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}${r.stdout}`);
}

before(async () => {
  etcd = await startTestEtcd();
  cli = cliFor(etcd.endpoint);
  dir = mkdtempSync(join(tmpdir(), 'alluxio-history-test-'));
});
after(async () => {
  await etcd?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('history', () => {
  it('records every change with who, command and summary; show and --path', async () => {
    ok(await cli(['mount', 'add', '--path', '/model', '--ufs-uri', `file://${dir}/model/`]), 'mount add');
    ok(await cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/model/v3', '--id', 'ml']), 'rule add');
    ok(await cli(['mount', 'add', '--path', '/other', '--ufs-uri', `file://${dir}/other/`, '--option', 's3a.secretKey=SEKRET']), 'mount add other');
    ok(await cli(['path-mapping', 'update', '--id', 'ml', '--to', '/model/v4']), 'rule update');

    const h = (await cli(['history', '--json'])).json();
    assert.deepEqual(h.entries.map((e: any) => e.command), ['path-mapping update', 'mount add', 'path-mapping add', 'mount add']);
    assert.deepEqual(h.entries.map((e: any) => e.summary), ['~rule ml', '+mount /other', '+rule ml', '+mount /model']);
    for (const e of h.entries) {
      assert.match(e.who.os, /^.+@.+$/);
      assert.equal(e.who.etcdUser, null);
      assert.ok(!Number.isNaN(Date.parse(e.at)));
    }
    // Each entry's revision is the revision the change committed at (etcd's generation key says so).
    const gen = await etcdJson(['get', '/alluxio/default/config/generation']);
    assert.equal(h.entries[0].revision, Number(gen.kvs[0].mod_revision));

    const onlyModel = (await cli(['history', '--path', '/model/latest', '--json'])).json();
    assert.deepEqual(onlyModel.entries.map((e: any) => e.summary), ['~rule ml', '+rule ml', '+mount /model']);
    assert.equal((await cli(['history', '--limit', '2', '--json'])).json().entries.length, 2);

    const shown = (await cli(['history', 'show', String(h.entries[0].revision), '--json'])).json();
    assert.equal(shown.changes.length, 1);
    assert.equal(shown.changes[0].before.dst, '/model/v3');
    assert.equal(shown.changes[0].after.dst, '/model/v4');
    // Secrets are redacted like mount list does, unless asked for.
    const secret = (await cli(['history', 'show', String(h.entries[1].revision), '--json'])).json();
    assert.notEqual(secret.changes[0].after.options['s3a.secretKey'], 'SEKRET');
    const shownSecret = (await cli(['history', 'show', String(h.entries[1].revision), '--show-secrets', '--json'])).json();
    assert.equal(shownSecret.changes[0].after.options['s3a.secretKey'], 'SEKRET');

    // A change too large to record its values (over 512 KiB) still says what it did.
    // (the CLI probe of 2026-12-02: 3,000 rules removed were listed as "+rule", complete unsaid)
    const big = cliFor(etcd.endpoint, 'bighist');
    const many = join(dir, 'many.json');
    writeFileSync(many, JSON.stringify({ rules: Array.from({ length: 3000 }, (_, i) => ({ src: `^/big${i}/(.*)$`, dst: `/model/b${i}/{{ var1 }}` })) }));
    ok(await big(['mount', 'add', '--path', '/model', '--ufs-uri', `file://${dir}/model/`]), 'mount add (bighist)');
    ok(await big(['path-mapping', 'import', many]), 'import of 3000 rules');
    const none = join(dir, 'none.json');
    writeFileSync(none, JSON.stringify({ rules: [] }));
    ok(await big(['path-mapping', 'import', '--replace', '--yes', none]), 'import --replace of none');
    const [removal, addition] = (await big(['history', '--limit', '2', '--json'])).json().entries;
    assert.equal(removal.complete, false);
    assert.match(removal.summary, /^-rule import-\d+, .*\(values not recorded: too large\)$/);
    assert.equal(addition.complete, false);
    assert.match(addition.summary, /^\+rule import-\d+/);
    const removed = (await big(['history', 'show', String(removal.revision), '--json'])).json();
    assert.equal(removed.changes.length, 3000);
    assert.ok(removed.changes.every((c: any) => c.action === 'removed' && c.kind === 'rule'));
    assert.equal(h.entries[0].complete, true);

    const missing = await cli(['history', 'show', '1', '--json']);
    assert.equal(missing.code, 4);
    assert.equal(missing.json().error.code, 'NotFound');
    assert.equal((await cli(['history', 'show', 'abc'])).code, 2);
  });

  it('a record edited by hand into something unreadable is skipped with a warning, not a crash', async () => {
    // (before 2026-12-02 a change without its key made every `history` fail with a TypeError)
    const ed = cliFor(etcd.endpoint, 'edited');
    ok(await ed(['mount', 'add', '--path', '/e1', '--ufs-uri', `file://${dir}/e1/`]), 'mount add e1');
    ok(await ed(['mount', 'add', '--path', '/e2', '--ufs-uri', `file://${dir}/e2/`]), 'mount add e2');
    const records = await prefixAt('/alluxio/edited/history/');
    const [key, value] = [...records].find(([, v]) => JSON.parse(v).changes[0].key.endsWith('/e2'))!;
    const rec = JSON.parse(value);
    delete rec.changes[0].key;
    await execFileP('etcdctl', ['--endpoints', etcd.endpoint, 'put', key, JSON.stringify(rec)], { env: { ...process.env, ETCDCTL_API: '3' } });
    const listed = await ed(['history']);
    ok(listed, 'history');
    assert.match(listed.stderr, new RegExp(`warning: history record ${key} is malformed \\(change 1\\); skipped`));
    assert.match(listed.stdout, /\+mount \/e1/);
    const doc = (await ed(['history', '--json'])).json();
    assert.deepEqual(doc.entries.map((e: any) => e.summary), ['+mount /e1']);
    assert.deepEqual(doc.invalid.map((i: any) => i.key), [key]);
    // revert cannot undo across the skipped record from history: it reads etcd at the revision
    const reverted = await ed(['revert', '--to', String(doc.entries[0].revision), '--yes', '--json']);
    ok(reverted, 'revert across the unreadable record');
    assert.deepEqual(reverted.json().changes.map((c: any) => [c.action, c.name]), [['removed', '/e2']]);
  });

  it('a change and its record commit together: 12 racing writers, each record equals etcd MVCC diff at its revision', async () => {
    const runs = [];
    // A generous deadline: twelve CLIs start at once on a small, busy machine.
    const slow = ['--etcd-timeout', '60s'];
    for (let i = 0; i < 6; i++) runs.push(cli(['mount', 'add', '--path', `/race${i}`, '--ufs-uri', `file://${dir}/race${i}/`, ...slow]));
    for (let i = 0; i < 6; i++) runs.push(cli(['path-mapping', 'add', '--from', `/race${i}/a`, '--to', `/race${i}/b`, '--id', `race${i}`, ...slow]));
    for (const r of await Promise.all(runs)) ok(r, 'racing write');
    const history = await prefixAt('/alluxio/default/history/');
    const records = [...history.values()].map((v) => JSON.parse(v));
    const gens = records.map((r) => r.generation).sort((a, b) => a - b);
    // One record per generation, none missing, none doubled.
    assert.deepEqual(gens, Array.from({ length: gens.length }, (_, i) => i + 1));
    const doc = await etcdJson(['get', '--prefix', '/alluxio/default/history/']);
    for (const kv of doc.kvs) {
      const rec = JSON.parse(b64(kv.value));
      const rev = Number(kv.mod_revision);
      // The generation key changed in the very same revision as the record...
      const g = await etcdJson(['get', '/alluxio/default/config/generation', `--rev=${rev}`]);
      assert.equal(Number(g.kvs[0].mod_revision), rev);
      assert.equal(JSON.parse(b64(g.kvs[0].value)).generation, rec.generation);
      // ...and the record's changes are exactly what etcd shows between rev-1 and rev.
      const [was, now] = await Promise.all([prefixAt('/alluxio/default/config/', rev - 1), prefixAt('/alluxio/default/config/', rev)]);
      const changed = [...new Set([...was.keys(), ...now.keys()])].filter((k) => !k.endsWith('/generation') && was.get(k) !== now.get(k)).sort();
      assert.deepEqual(rec.changes.map((c: any) => c.key), changed);
      for (const c of rec.changes) {
        assert.equal(c.before, was.get(c.key) ?? null);
        assert.equal(c.after, now.get(c.key) ?? null);
      }
    }
  });

  it('keeps the last ALLUXIO_HISTORY_KEEP records', async () => {
    const env = { ALLUXIO_HISTORY_KEEP: '3' };
    for (let i = 0; i < 4; i++) ok(await cli(['path-mapping', 'add', '--from', `/keep${i}`, '--to', '/model', '--id', `keep${i}`], { env }), 'add');
    const kept = await prefixAt('/alluxio/default/history/');
    assert.equal(kept.size, 3);
    const bad = await cli(['path-mapping', 'add', '--from', '/keepx', '--to', '/model', '--json'], { env: { ALLUXIO_HISTORY_KEEP: '0' } });
    assert.equal(bad.code, 2);
  });
});

describe('diff and revert', () => {
  let env: MigEnv;
  before(async () => {
    env = await startMigEnv();
  });
  after(async () => {
    await env?.destroy();
  });

  it('reverts across a mount update, a rule removal and a migration cutover; the revert is itself recorded', async () => {
    const old = env.mkdir('old');
    const neu = env.mkdir('new');
    populate(old, { 'a.txt': 100, 'sub/b.bin': 5000 });
    ok(await env.cli(['mount', 'add', '--path', '/a', '--ufs-uri', `file://${old}/`]), 'mount add');
    ok(await env.cli(['mount', 'add', '--path', '/m', '--ufs-uri', `file://${env.mkdir('m')}/`]), 'mount add m');
    ok(await env.cli(['path-mapping', 'add', '--from', '/m/latest', '--to', '/m/v3', '--id', 'latest']), 'rule add');
    const base = Number((await env.cli(['history', '--json'])).json().entries[0].revision);
    const baseConfig = await prefixAtEnv(env, '/alluxio/default/config/');

    ok(await env.cli(['mount', 'update', '--path', '/m', '--readonly']), 'mount update');
    ok(await env.cli(['path-mapping', 'remove', '--id', 'latest', '--yes']), 'rule remove');
    const started = (await env.cli(['migrate', 'start', '--path', '/a', '--to', `file://${neu}/`, '--json'])).json();
    await waitStatus(env, started.id, (d) => d.state === 'ready', 'ready');
    ok(await env.cli(['migrate', 'cutover', '--id', started.id]), 'cutover');

    const d = (await env.cli(['diff', '--from', String(base), '--json'])).json();
    assert.deepEqual(d.changes.map((c: any) => `${c.action} ${c.kind} ${c.name}`).sort(), ['changed mount /a', 'changed mount /m', 'removed rule latest']);
    // Compaction does not matter: history rebuilds the old config.
    await etcdJsonEnv(env, ['compaction', String(await headRevisionEnv(env))]);
    const d2 = (await env.cli(['diff', '--from', String(base), '--json'])).json();
    assert.deepEqual(d2.changes, d.changes);

    const rev = await env.cli(['revert', '--to', String(base), '--json']);
    ok(rev, 'revert');
    const doc = rev.json();
    assert.equal(doc.revertedTo, base);
    const nowConfig = await prefixAtEnv(env, '/alluxio/default/config/');
    nowConfig.delete('/alluxio/default/config/generation');
    baseConfig.delete('/alluxio/default/config/generation');
    assert.deepEqual(nowConfig, baseConfig);
    const h = (await env.cli(['history', '--json'])).json();
    assert.equal(h.entries[0].command, `revert --to ${base}`);
    assert.equal(h.entries[0].revertedTo, base);
    assert.equal(h.entries[0].revision, doc.revision);
    // Reverting the revert goes forward again.
    ok(await env.cli(['revert', '--to', String(doc.revision - 1)]), 'revert the revert');
    const again = (await env.cli(['diff', '--from', String(doc.revision - 1), '--json'])).json();
    assert.deepEqual(again.changes, []);
    // A revert to the config in place writes nothing, and says so.
    const head = await headRevisionEnv(env);
    const noop = await env.cli(['revert', '--to', String(doc.revision - 1)]);
    ok(noop, 'revert to the config in place');
    assert.match(noop.stdout, /already that of revision \d+: nothing to revert, nothing written/);
    assert.equal(await headRevisionEnv(env), head);
  });

  it('refuses (3) when the config moved on after revert read it; nothing reverted', async () => {
    ok(await env.cli(['path-mapping', 'add', '--from', '/m/x', '--to', '/m/y', '--id', 'race-a']), 'add');
    const target = Number((await env.cli(['history', '--json'])).json().entries[0].revision);
    ok(await env.cli(['path-mapping', 'add', '--from', '/m/p', '--to', '/m/q', '--id', 'race-b']), 'add');
    const conn = new EtcdConnection({ endpoints: [env.etcd.endpoint], cluster: 'default' });
    // Another admin commits between revert's read and its commit (injected once revert has
    // read the config, when it reads the history records; every etcd request, JSON gateway or
    // grpc, runs under withDeadline).
    const real = conn.withDeadline.bind(conn);
    let injected = false;
    (conn as any).withDeadline = async (what: string, ...rest: any[]) => {
      if (what === 'read history' && !injected) {
        injected = true;
        ok(await env.cli(['path-mapping', 'add', '--from', '/m/s', '--to', '/m/t', '--id', 'race-c']), 'racing add');
      }
      return (real as any)(what, ...rest);
    };
    try {
      await assert.rejects(revertTo(conn, target), (e: any) => e.code === 'Conflict' && e.exitCode === 3);
    } finally {
      conn.close();
    }
    assert.ok(injected);
    const rules = (await env.cli(['path-mapping', 'list', '--json'])).json().rules.map((r: any) => r.id);
    assert.ok(rules.includes('race-b') && rules.includes('race-c'), 'nothing reverted');
    // A revision older than both history (ALLUXIO_HISTORY_KEEP) and etcd (compacted) keep is
    // refused clearly, nothing written.
    const old = target - 1;
    ok(await env.cli(['path-mapping', 'remove', '--id', 'race-a', '--yes'], { env: { ALLUXIO_HISTORY_KEEP: '1' } }), 'trim history');
    await etcdJsonEnv(env, ['compaction', String(await headRevisionEnv(env))]);
    const head = await headRevisionEnv(env);
    const gone = await env.cli(['revert', '--to', String(old), '--json']);
    assert.equal(gone.code, 4, gone.stdout);
    assert.match(gone.json().error.message, /can no longer be rebuilt/);
    assert.equal(await headRevisionEnv(env), head);
  });
});

describe('--dry-run', () => {
  it('a report over 64 KiB arrives whole through a pipe (it was cut at the pipe size, exit 0)', async () => {
    const file = join(dir, 'big-import.json');
    writeFileSync(file, JSON.stringify({ rules: Array.from({ length: 2000 }, (_, i) => ({ src: `^/bigdry/d${i}/(.*)$`, dst: `/bigdry-t/${i}/{{ var1 }}` })) }));
    // the reader (python) starts after the CLI has filled the pipe
    const { stdout } = await execFileP(
      'sh',
      ['-c', `"${process.execPath}" "${RUN}" path-mapping import "${file}" --dry-run --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["dryRun"], len(json.dumps(d)))'`],
      { env: { ...process.env, ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, NO_COLOR: '1' }, maxBuffer: 1 << 20 },
    );
    const [flag, length] = stdout.trim().split(' ');
    assert.equal(flag, 'True');
    assert.ok(Number(length) > 256 * 1024, `a report of ${length} bytes`);
  });

  it('writes nothing (etcd revision unchanged) and reports the impact on a generated table', async () => {
    // A generated table: 8 mounts, 30 regex rules between them (one import), 2 prefix rules.
    for (let i = 0; i < 8; i++) ok(await cli(['mount', 'add', '--path', `/g${i}`, '--ufs-uri', `file://${dir}/g${i}/`]), 'mount');
    const file = { rules: Array.from({ length: 30 }, (_, i) => prefixAsRegex(`/g${i % 8}/r${i}`, `/g${(i * 3) % 8}/t${i}`)) };
    writeFileSync(join(dir, 'rules.json'), JSON.stringify(file));
    ok(await cli(['path-mapping', 'import', join(dir, 'rules.json')]), 'import');
    ok(await cli(['path-mapping', 'add', '--from', '/g2/p1', '--to', '/g6/q1', '--id', 'p1']), 'prefix rule');
    ok(await cli(['path-mapping', 'add', '--from', '/g2/p2', '--to', '/g7/q2', '--id', 'p2']), 'prefix rule');
    const listed = (await cli(['path-mapping', 'list', '--json'])).json().rules as RuleSpec[];
    const mounts = (await cli(['mount', 'list', '--json'])).json().mounts.map((m: any) => parseMount(m));
    const samples: string[] = [];
    for (let i = 0; i < 30; i++) samples.push(`/g${i % 8}/r${i}/file.csv`, `/g${i % 8}/r${i}x/file`, `/g${i % 8}`);
    writeFileSync(join(dir, 'samples.txt'), samples.join('\n') + '\n# comment\n\n');

    // The change: a rule capturing all of /g2 (and everything under it) to /g5/moved.
    const change = { id: 'capture', order: 5, kind: 'prefix' as const, src: '/g2', dst: '/g5/moved', enabled: true };
    const rev0 = await headRevision();
    const r = await cli(['path-mapping', 'add', '--from', change.src, '--to', change.dst, '--id', change.id, '--order', '5', '--dry-run', '--sample', join(dir, 'samples.txt'), '--json']);
    ok(r, 'dry run');
    assert.equal(await headRevision(), rev0, 'nothing written');
    const rep = r.json();
    assert.equal(rep.dryRun, true);
    assert.deepEqual(rep.changes.map((c: any) => `${c.action} ${c.name}`), ['added capture']);

    // Expected impact, computed independently with the resolver on both configs.
    const beforeSnap = Snapshot.build(1, { mounts, rules: listed });
    const afterSnap = Snapshot.build(1, { mounts, rules: [...listed, change] });
    const out = (s: Snapshot, p: string): string => {
      try {
        return s.resolve({ api: 'alluxio', path: p }, { allowUnmounted: true }).ufsUri ?? 'none';
      } catch (e: any) {
        return e.code;
      }
    };
    const all = new Set<string>(samples);
    for (const m of mounts) all.add(m.path);
    for (const x of [...listed, change]) if (x.kind === 'prefix') (all.add(x.src), all.add(x.dst));
    const expected = [...all].filter((p) => out(beforeSnap, p) !== out(afterSnap, p)).sort();
    assert.ok(expected.length > 3);
    assert.deepEqual(rep.impact.map((i: any) => i.path).sort(), expected);
    // The rules on /g2 that the new rule captures first are named as conflicts.
    for (const id of ['p1', 'p2']) assert.ok(rep.conflicts.some((c: string) => c.startsWith(`rule ${id} `)), `conflict for ${id}`);

    // Same validation and exit codes as the real command; still nothing written.
    const dup = await cli(['path-mapping', 'add', '--from', '/x', '--to', '/y', '--id', 'p1', '--dry-run', '--json']);
    assert.equal(dup.code, 3);
    const badPath = await cli(['mount', 'add', '--path', '/a/b', '--ufs-uri', 'file:///tmp/', '--dry-run']);
    assert.equal(badPath.code, 2);
    // A destructive command needs no confirmation to be dry-run, and removes nothing.
    const rm = await cli(['mount', 'remove', '--path', '/g3', '--dry-run', '--json']);
    ok(rm, 'remove dry run');
    assert.deepEqual(rm.json().changes.map((c: any) => `${c.action} ${c.name}`), ['removed /g3']);
    const badSample = await cli(['mount', 'remove', '--path', '/g3', '--dry-run', '--sample', join(dir, 'nope.txt')]);
    assert.equal(badSample.code, 2);
    assert.equal(await headRevision(), rev0, 'still nothing written');
  });
});

async function etcdJsonEnv(env: MigEnv, args: string[]): Promise<any> {
  const { stdout } = await execFileP('etcdctl', ['--endpoints', env.etcd.endpoint, ...args, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } });
  return stdout.trim().startsWith('{') ? JSON.parse(stdout) : stdout;
}
async function prefixAtEnv(env: MigEnv, prefix: string): Promise<Map<string, string>> {
  const doc = await etcdJsonEnv(env, ['get', '--prefix', prefix]);
  return new Map((doc.kvs ?? []).map((kv: any) => [b64(kv.key), b64(kv.value)]));
}
async function headRevisionEnv(env: MigEnv): Promise<number> {
  return Number((await etcdJsonEnv(env, ['get', 'x'])).header.revision);
}
