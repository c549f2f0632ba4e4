/**
 * `alluxio migrate` end to end through the real CLI against a real etcd, with two file://
 * directories as the old and new UFS and the real detached copier process:
 * start/status shapes, the mount held read-only, refusals (second migration, mount
 * update/remove, cutover before ready), abort restoring the mount exactly, kill -9 of the
 * copier and resume without recopying, and a corrupted target file failing verification.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, copierLog, inodes, must, populate, recordVersions, snapshotTree, startMigEnv, waitStatus, type MigEnv } from './env.js';
import { until } from '../helpers/poll.js';

let env: MigEnv;

before(async () => {
  env = await startMigEnv();
});
after(async () => {
  await env?.destroy();
});

async function mounts(): Promise<any[]> {
  return must(await env.cli(['mount', 'list', '--json', '--show-secrets']), 'mount list').json().mounts;
}

test('start records the migration and makes the mount read-only; refusals; ready; status shape', async () => {
  const old = env.mkdir('a-old');
  const neu = env.mkdir('a-new');
  const files = populate(old, { 'x.bin': 1000, 'dir/y.bin': 70_000, 'dir/sub/z.txt': 3, 'é ü.bin': 10 });
  must(await env.cli(['mount', 'add', '--path', '/a', '--ufs-uri', `file://${old}`, '--option', 'note=keep']), 'mount add');
  const before = (await mounts()).find((m) => m.path === '/a');
  assert.equal(before.readOnly, false);

  const s = await env.cli(['migrate', 'start', '--path', '/a', '--to', `file://${neu}`, '--verify', 'checksum', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const started = s.json();
  assert.match(started.id, /^m-\d+$/);
  assert.equal(started.state, 'copying');
  assert.equal(typeof started.revision, 'number');

  // Same transaction: the mount is read-only (shown in mount list), the rest unchanged.
  const during = (await mounts()).find((m) => m.path === '/a');
  assert.deepEqual(during, { ...before, readOnly: true });

  // One migration per mount; the mount cannot be changed or removed meanwhile.
  const second = await env.cli(['migrate', 'start', '--path', '/a', '--to', `file://${env.mkdir('a-other')}`, '--json']);
  assert.equal(second.code, 3);
  assert.equal(second.json().error.code, 'MigrationInProgress');
  const upd = await env.cli(['mount', 'update', '--path', '/a', '--no-readonly', '--json']);
  assert.equal(upd.code, 3);
  assert.equal(upd.json().error.code, 'MigrationInProgress');
  const rm = await env.cli(['mount', 'remove', '--path', '/a', '--yes', '--json']);
  assert.equal(rm.code, 3);
  assert.equal((await mounts()).find((m) => m.path === '/a').readOnly, true);

  const ready = await waitStatus(env, started.id, (d) => d.state === 'ready', 'ready');
  assert.equal(ready.id, started.id);
  assert.equal(ready.path, '/a');
  assert.equal(ready.from, `file://${old}/`);
  assert.equal(ready.to, `file://${neu}/`);
  const total = [...files.values()].reduce((n, b) => n + b.length, 0);
  assert.deepEqual(ready.files, { done: 4, total: 4 });
  assert.deepEqual(ready.bytes, { done: total, total });
  assert.equal(typeof ready.rate, 'number');
  assert.equal(ready.eta, 0);
  assert.equal(ready.error, undefined);
  assert.deepEqual(ready.verified, { files: 4, bytes: total });
  assert.deepEqual(snapshotTree(neu), files);

  // Cutover switches the mount (mode restored, options of the new binding: none given).
  const c = await env.cli(['migrate', 'cutover', '--id', started.id, '--json']);
  assert.equal(c.code, 0, c.stderr);
  const cut = c.json();
  assert.equal(cut.state, 'cut-over');
  assert.deepEqual(cut.mount, { path: '/a', ufsUri: `file://${neu}/`, readOnly: false, options: {} });
  assert.deepEqual((await mounts()).find((m) => m.path === '/a'), cut.mount);
  // A second cutover or an abort after cutover are refused (3); rollback goes back exactly.
  assert.equal((await env.cli(['migrate', 'cutover', '--id', started.id])).code, 3);
  assert.equal((await env.cli(['migrate', 'abort', '--id', started.id, '--yes'])).code, 3);
  assert.equal((await env.cli(['migrate', 'abort', '--id', started.id])).code, 3, 'refused before asking (not 2, "confirmation required")');
  const rb = await env.cli(['migrate', 'rollback', '--id', started.id, '--json']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(rb.json().state, 'rolled-back');
  assert.deepEqual((await mounts()).find((m) => m.path === '/a'), before);
  // Finished: the mount is free again.
  must(await env.cli(['mount', 'update', '--path', '/a', '--option', 'note=changed']), 'mount update after the migration');
});

test('abort leaves the mount exactly as it was (a read-only mount stays read-only, options kept)', async () => {
  const old = env.mkdir('b-old');
  const neu = env.mkdir('b-new');
  populate(old, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${String(i).padStart(2, '0')}.bin`, 16 * 1024])));
  must(await env.cli(['mount', 'add', '--path', '/b', '--ufs-uri', `file://${old}`, '--readonly', '--option', 'a=1', '--option', 'b=2']), 'mount add');
  const before = (await mounts()).find((m) => m.path === '/b');
  const started = must(await env.cli(['migrate', 'start', '--path', '/b', '--to', `file://${neu}`, '--bandwidth', '64k', '--concurrency', '1', '--json']), 'start').json();
  await waitStatus(env, started.id, (d) => d.files.done >= 2, 'some progress');
  // No terminal and no --yes: refused (2), nothing changes.
  assert.equal((await env.cli(['migrate', 'abort', '--id', started.id])).code, 2);
  const a = await env.cli(['migrate', 'abort', '--id', started.id, '--yes', '--json']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.json().state, 'aborted');
  assert.deepEqual((await mounts()).find((m) => m.path === '/b'), before);
  const st = must(await env.cli(['migrate', 'status', '--id', started.id, '--json']), 'status').json();
  assert.equal(st.state, 'aborted');
  // The copier notices and exits without touching the record again.
  const pid = started.copier.pid as number;
  await until(`copier ${pid} to exit after abort`, () => !alive(pid)).catch((e: Error) => assert.fail(`${e.message}:\n${copierLog(env, started.id)}`));
  assert.equal(must(await env.cli(['migrate', 'status', '--id', started.id, '--json']), 'status').json().state, 'aborted');
  // Aborted is final; the mount can be migrated again (a new id).
  assert.equal((await env.cli(['migrate', 'cutover', '--id', started.id])).code, 3);
  assert.equal((await env.cli(['migrate', 'resume', '--id', started.id])).code, 3);
});

test('kill -9 of the copier: resume continues where it stopped, without recopying done files', async () => {
  const old = env.mkdir('c-old');
  const neu = env.mkdir('c-new');
  const names = Array.from({ length: 40 }, (_, i) => `part-${String(i).padStart(3, '0')}.bin`);
  const files = populate(old, Object.fromEntries(names.map((n) => [n, 16 * 1024])));
  must(await env.cli(['mount', 'add', '--path', '/c', '--ufs-uri', `file://${old}`]), 'mount add');
  const started = must(
    await env.cli(['migrate', 'start', '--path', '/c', '--to', `file://${neu}`, '--bandwidth', '64k', '--concurrency', '2', '--verify', 'checksum', '--json']),
    'start',
  ).json();
  const progressing = await waitStatus(env, started.id, (d) => d.files.done >= 8 && d.copier.running, 'progress');
  assert.ok(progressing.rate > 0, `rate ${progressing.rate}`);
  assert.equal(typeof progressing.eta, 'number');
  // A copier is alive: a second one is refused.
  const dup = await env.cli(['migrate', 'resume', '--id', started.id, '--json']);
  assert.equal(dup.code, 3, dup.stdout);
  const pid = progressing.copier.pid as number;
  assert.equal(pid, started.copier.pid);
  process.kill(pid, 'SIGKILL');
  await until(`copier ${pid} to die`, () => !alive(pid), 30_000, 20);
  const stopped = must(await env.cli(['migrate', 'status', '--id', started.id, '--json']), 'status').json();
  assert.equal(stopped.state, 'copying');
  assert.ok(stopped.files.done >= 8 && stopped.files.done < 40, JSON.stringify(stopped.files));
  const cursor = stopped.checkpoint.cursor as string;
  const done = names.filter((n) => n <= cursor || stopped.checkpoint.ahead.includes(n));
  assert.equal(done.length, stopped.files.done);
  const before = inodes(neu, done);
  // The human status says the copier is gone (once its lease expired) and how to resume.
  await waitStatus(env, started.id, (d) => d.copier.running === false, 'copier lease expiry', 30_000);
  const human = must(await env.cli(['migrate', 'status', '--id', started.id]), 'status').stdout;
  assert.match(human, /NOT running/);
  assert.match(human, new RegExp(`migrate resume --id ${started.id}`));

  assert.equal(stopped.concurrency, 2);
  assert.equal(stopped.bandwidth, 64 * 1024);
  const res = await env.cli(['migrate', 'resume', '--id', started.id, '--bandwidth', '128k', '--concurrency', '3', '--json']);
  assert.equal(res.code, 0, res.stderr);
  assert.notEqual(res.json().copier.pid, pid);
  // its own log, named by its id and creation time (another cluster's m-1 on this host has
  // another one), written on by the resumed copier
  assert.match(started.copier.log, new RegExp(`/${started.id}-\\d{8}T\\d{9}Z\\.log$`));
  assert.equal(res.json().copier.log, started.copier.log);
  const ready = await waitStatus(env, started.id, (d) => d.state === 'ready', 'ready after resume', 90_000);
  assert.deepEqual(ready.files, { done: 40, total: 40 });
  assert.equal(ready.concurrency, 3);
  assert.equal(ready.bandwidth, 128 * 1024);
  // Files the checkpoint had recorded were not written again (same inode and mtime).
  assert.deepEqual(inodes(neu, done), before);
  const log = copierLog(env, started.id);
  const secondRun = log.slice(log.lastIndexOf('copier started'));
  assert.match(secondRun, new RegExp(`${done.length} already copied`));
  for (const n of done) assert.ok(!secondRun.includes(`copied ${n} `), `${n} was copied again:\n${secondRun}`);
  // etcd's history of the record: files done never went backwards across the kill and the
  // resume, and out-of-order completions stayed few (concurrency 2, then 3).
  const versions = await recordVersions(env.etcd.endpoint, started.id);
  let prev = 0;
  for (const v of versions) {
    assert.ok(v.files.done >= prev, `files.done went from ${prev} to ${v.files.done}`);
    prev = v.files.done;
    assert.ok(v.checkpoint.ahead.length <= 3, JSON.stringify(v.checkpoint));
  }
  // Everything arrived intact (no temp files left visible through the adapter either).
  const tree = snapshotTree(neu);
  for (const [n, b] of files) assert.ok(tree.get(n)?.equals(b), `${n} differs`);
});

test('a corrupted file in the target fails verification naming it; resume copies it again', async () => {
  const old = env.mkdir('d-old');
  const neu = env.mkdir('d-new');
  const names = Array.from({ length: 24 }, (_, i) => `k${String(i).padStart(2, '0')}.bin`);
  const files = populate(old, Object.fromEntries(names.map((n) => [n, 16 * 1024])));
  must(await env.cli(['mount', 'add', '--path', '/d', '--ufs-uri', `file://${old}`]), 'mount add');
  const started = must(
    await env.cli(['migrate', 'start', '--path', '/d', '--to', `file://${neu}`, '--bandwidth', '64k', '--concurrency', '1', '--verify', 'checksum', '--json']),
    'start',
  ).json();
  await waitStatus(env, started.id, (d) => d.files.done >= 3, 'k01 copied');
  // Same size, different bytes: only the checksum can tell.
  const victim = join(neu, 'k01.bin');
  const bad = Buffer.from(readFileSync(victim));
  bad[100] = bad[100]! ^ 0xff;
  writeFileSync(victim, bad);
  const failed = await waitStatus(env, started.id, (d) => d.state === 'failed', 'verification failure', 60_000);
  assert.equal(failed.error.code, 'ChecksumMismatch');
  assert.deepEqual(failed.error.files, ['k01.bin']);
  assert.match(failed.error.message, /k01\.bin \(sha256 differs/);
  // Failed: still holding the mount (read-only), cannot be cut over.
  assert.equal((await mounts()).find((m) => m.path === '/d').readOnly, true);
  const co = await env.cli(['migrate', 'cutover', '--id', started.id, '--json']);
  assert.equal(co.code, 3);
  assert.equal(co.json().error.code, 'InvalidState');
  assert.equal((await env.cli(['migrate', 'start', '--path', '/d', '--to', `file://${env.mkdir('d-other')}`])).code, 3);
  // Resume copies the named file again (only it), verifies, and is ready.
  must(await env.cli(['migrate', 'resume', '--id', started.id]), 'resume');
  // status --watch follows until the copy stops moving; in a pipe it prints plain progress lines on stderr.
  const watched = await env.cli(['migrate', 'status', '--id', started.id, '--watch', '--json'], { timeoutMs: 90_000 });
  assert.equal(watched.code, 0, watched.stderr);
  assert.equal(watched.json().state, 'ready');
  assert.match(watched.stderr, new RegExp(`^${started.id} (copying|verifying|ready)\\s+\\[[#-]{24}\\]`, 'm'));
  assert.ok(!watched.stderr.includes('\r'), 'no carriage returns in a pipe');
  const ready = await waitStatus(env, started.id, (d) => d.state === 'ready', 'ready after recopy');
  assert.equal(ready.error, undefined);
  assert.ok(readFileSync(victim).equals(files.get('k01.bin')!));
  const log = copierLog(env, started.id);
  const secondRun = log.slice(log.lastIndexOf('copier started'));
  assert.deepEqual([...secondRun.matchAll(/ copied (\S+) \{/g)].map((m) => m[1]), ['k01.bin']);
  // In etcd's history of the record: the file to recopy never held the cursor back (no
  // checkpoint listed the whole rest of the files as "ahead"), and progress never went back.
  const versions = await recordVersions(env.etcd.endpoint, started.id);
  assert.ok(versions.length > 5);
  for (const v of versions) assert.ok(v.checkpoint.ahead.length <= 2, `checkpoint with ${v.checkpoint.ahead.length} files ahead: ${JSON.stringify(v.checkpoint)}`);
  const resumedAt = versions.findIndex((v, i) => i > 0 && v.state === 'copying' && versions[i - 1].state === 'failed');
  assert.ok(resumedAt > 0);
  for (const v of versions.slice(resumedAt)) if (v.state === 'copying') assert.equal(v.checkpoint.cursor, 'k23.bin');
});

test('size verification catches a truncated target file', async () => {
  const old = env.mkdir('e-old');
  const neu = env.mkdir('e-new');
  populate(old, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`s${String(i).padStart(2, '0')}.bin`, 16 * 1024])));
  must(await env.cli(['mount', 'add', '--path', '/e', '--ufs-uri', `file://${old}`]), 'mount add');
  const started = must(await env.cli(['migrate', 'start', '--path', '/e', '--to', `file://${neu}`, '--bandwidth', '64k', '--concurrency', '1', '--json']), 'start').json();
  await waitStatus(env, started.id, (d) => d.files.done >= 2, 's00 copied');
  writeFileSync(join(neu, 's00.bin'), 'short');
  writeFileSync(join(neu, 'stray.txt'), 'not in the source');
  const failed = await waitStatus(env, started.id, (d) => d.state === 'failed', 'verification failure');
  assert.deepEqual(failed.error.files, ['s00.bin', 'stray.txt']);
  assert.match(failed.error.message, /s00\.bin \(size 16384 in the source, 5 in the target\)/);
  assert.match(failed.error.message, /stray\.txt \(in the target but not in the source\)/);
  must(await env.cli(['migrate', 'abort', '--id', started.id, '--yes']), 'abort');
  assert.equal((await mounts()).find((m) => m.path === '/e').readOnly, false);
});

test('refused inputs: unknown id (4), bad id (2), non-empty or nested target (3), unknown mount (4)', async () => {
  const old = env.mkdir('f-old');
  populate(old, { 'a.bin': 10 });
  must(await env.cli(['mount', 'add', '--path', '/f', '--ufs-uri', `file://${old}`]), 'mount add');
  assert.equal((await env.cli(['migrate', 'status', '--id', 'm-999', '--json'])).code, 4);
  assert.equal((await env.cli(['migrate', 'cutover', '--id', 'nope'])).code, 2);
  const full = env.mkdir('f-full');
  writeFileSync(join(full, 'existing'), 'x');
  const ne = await env.cli(['migrate', 'start', '--path', '/f', '--to', `file://${full}`, '--json']);
  assert.equal(ne.code, 3);
  assert.match(ne.json().error.message, /not empty/);
  const nested = await env.cli(['migrate', 'start', '--path', '/f', '--to', `file://${old}/inner`, '--json']);
  assert.equal(nested.code, 3);
  assert.equal((await env.cli(['migrate', 'start', '--path', '/nope', '--to', `file://${env.mkdir('f-x')}`])).code, 4);
  assert.equal((await env.cli(['migrate', 'start', '--path', '/f', '--to', 'ftp://x/y'])).code, 2);
  // Nothing was recorded or changed by the refusals.
  assert.equal((await mounts()).find((m) => m.path === '/f').readOnly, false);
  assert.ok(!existsSync(join(old, 'inner')));
  const all = must(await env.cli(['migrate', 'status', '--json']), 'status').json();
  assert.ok(all.migrations.every((m: any) => m.path !== '/f'));
});
