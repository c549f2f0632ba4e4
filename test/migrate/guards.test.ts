/**
 * Migration guards against lost writes, through the real CLI and copier (file:// UFSs) and
 * against a real etcd:
 * - cutover re-lists the source and refuses (3) when it changed after verification (a
 *   write that raced verification), naming the files; `migrate resume` copies them again.
 * - rollback makes the mount read-only, re-checks the new UFS, and on refusal leaves the
 *   mount as it was (writable, on the new URI); after a clean check the old mode comes back.
 * - state changes (abort) are guarded by the record's mod revision: a record write that
 *   lands between the transaction's read and its commit is never overwritten.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EtcdConnection } from '../../src/store/connection.js';
import { addMount } from '../../src/control/mounts.js';
import { transact } from '../../src/store/config-store.js';
import { abort, startMigration } from '../../src/control/migrations.js';
import { casRecord, getRecord } from '../../src/migrate/store.js';
import { must, populate, snapshotTree, startMigEnv, waitStatus, type MigEnv } from './env.js';
import { until } from '../helpers/poll.js';

let env: MigEnv;

before(async () => {
  env = await startMigEnv();
});
after(async () => {
  await env?.destroy();
});

async function mountAt(path: string): Promise<any> {
  return must(await env.cli(['mount', 'list', '--json', '--show-secrets']), 'mount list').json().mounts.find((m: any) => m.path === path);
}

test('cutover refuses (3) when the source changed after verification, naming the files; resume re-copies, then cutover works', async () => {
  const old = env.mkdir('c-old');
  const neu = env.mkdir('c-new');
  populate(old, { 'keep.bin': 5000, 'raced.bin': 4000, 'sneaky.bin': 3000, 'dir/gone.bin': 100 });
  must(await env.cli(['mount', 'add', '--path', '/c', '--ufs-uri', `file://${old}`]), 'mount add');
  const started = must(await env.cli(['migrate', 'start', '--path', '/c', '--to', `file://${neu}`, '--json']), 'start').json();
  await waitStatus(env, started.id, (d) => d.state === 'ready', 'ready');

  // Writes that raced verification: same size, new content (and a later mtime); a new file; a deleted one.
  writeFileSync(join(old, 'raced.bin'), Buffer.alloc(4000, 7));
  const later = new Date(Date.now() + 5000);
  utimesSync(join(old, 'raced.bin'), later, later);
  writeFileSync(join(old, 'late.txt'), 'written after verification');
  // ... and one rewritten in place with its mtime put back (cp -p, rsync --inplace): only
  // its ctime tells (before 2026-12-02 cutover went through and served the superseded bytes)
  const sneaky = join(old, 'sneaky.bin');
  const was = statSync(sneaky);
  writeFileSync(sneaky, Buffer.alloc(3000, 9));
  utimesSync(sneaky, was.atime, was.mtime);
  rmSync(join(old, 'dir', 'gone.bin'));

  const c = await env.cli(['migrate', 'cutover', '--id', started.id, '--json']);
  assert.equal(c.code, 3, c.stdout + c.stderr);
  const err = c.json().error;
  assert.equal(err.code, 'Conflict', err.message);
  assert.match(err.message, /changed after it was verified/);
  assert.match(err.message, /late\.txt, raced\.bin, sneaky\.bin/);
  assert.match(err.message, /deleted from the source.*dir\/gone\.bin/);
  assert.match(err.message, new RegExp(`alluxio migrate resume --id ${started.id}`));
  assert.ok(!/keep\.bin/.test(err.message), 'unchanged files are not named');
  // Nothing switched: still the old URI, read-only; the migration waits for resume.
  const m = await mountAt('/c');
  assert.equal(m.ufsUri, `file://${old}/`);
  assert.equal(m.readOnly, true);
  const st = must(await env.cli(['migrate', 'status', '--id', started.id, '--json']), 'status').json();
  assert.equal(st.state, 'failed');

  // The deleted file must go from the target too before verification can pass (the copier never deletes).
  rmSync(join(neu, 'dir', 'gone.bin'));
  must(await env.cli(['migrate', 'resume', '--id', started.id]), 'resume');
  await waitStatus(env, started.id, (d) => d.state === 'ready', 'ready again');
  assert.deepEqual(snapshotTree(neu), snapshotTree(old), 'the raced writes were copied');
  const c2 = await env.cli(['migrate', 'cutover', '--id', started.id, '--json']);
  assert.equal(c2.code, 0, c2.stdout + c2.stderr);
  assert.equal((await mountAt('/c')).ufsUri, `file://${neu}/`);
});

test('rollback: refused when the new UFS changed, leaving the mount writable on the new URI; then rolls back with the mode restored', async () => {
  const old = env.mkdir('r-old');
  const neu = env.mkdir('r-new');
  populate(old, { 'a.bin': 3000, 'b/c.bin': 10 });
  must(await env.cli(['mount', 'add', '--path', '/r', '--ufs-uri', `file://${old}`]), 'mount add');
  const started = must(await env.cli(['migrate', 'start', '--path', '/r', '--to', `file://${neu}`, '--json']), 'start').json();
  await waitStatus(env, started.id, (d) => d.state === 'ready', 'ready');
  must(await env.cli(['migrate', 'cutover', '--id', started.id]), 'cutover');
  writeFileSync(join(neu, 'after-cutover.txt'), 'a write after cutover');

  const rb = await env.cli(['migrate', 'rollback', '--id', started.id, '--json']);
  assert.equal(rb.code, 3, rb.stdout + rb.stderr);
  assert.match(rb.json().error.message, /changed since it was verified/);
  assert.deepEqual(await mountAt('/r'), { path: '/r', ufsUri: `file://${neu}/`, readOnly: false, options: {} }, 'writable again, still on the new URI');

  rmSync(join(neu, 'after-cutover.txt'));
  const ok = await env.cli(['migrate', 'rollback', '--id', started.id, '--json']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.deepEqual(await mountAt('/r'), { path: '/r', ufsUri: `file://${old}/`, readOnly: false, options: {} });
});

test('abort never overwrites a record write that landed after its read (record mod revision is part of the commit guard)', async () => {
  const conn = new EtcdConnection({ endpoints: [env.etcd.endpoint], cluster: 'guard' });
  try {
    for (let i = 0; i < 6; i++) {
      const src = env.mkdir(`g-old${i}`);
      populate(src, { 'f.bin': 10 });
      await addMount(conn, { path: `/g${i}`, ufsUri: `file://${src}` });
      const { result: rec } = await startMigration(conn, { path: `/g${i}`, to: `file://${env.mkdir(`g-new${i}`)}` });
      // A writer standing in for the copier: checkpoints as fast as etcd takes them, each a
      // compare-and-swap on the record (exactly what the copier does), counting files.done.
      let stop = false;
      let lastWritten = 0;
      const writer = (async () => {
        while (!stop) {
          const cur = await getRecord(conn, rec.id);
          if (cur.record.state !== 'copying') return;
          const next = { ...cur.record, files: { done: cur.record.files.done + 1, total: 1000 } };
          if ((await casRecord(conn, next, cur.modRevision)) !== false) lastWritten = next.files.done;
          // A copier's checkpoint pace (pacing, not synchronisation): back to back, the
          // writer would win every compare and abort would give up after 40 attempts.
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
      let result;
      try {
        // Abort while the writer is busy, a little later in each round.
        await until('the checkpoint writer to land its writes', () => lastWritten >= 2 + 2 * i);
        ({ result } = await abort(conn, rec.id));
      } finally {
        stop = true;
        await writer;
      }
      const final = (await getRecord(conn, rec.id)).record;
      assert.equal(final.state, 'aborted');
      assert.equal(final.files.done, lastWritten, `abort overwrote checkpoint ${lastWritten} with ${final.files.done}`);
      assert.equal(result.record.files.done, lastWritten);
    }
  } finally {
    conn.close();
  }
});

test('transact(): a key named in the plan\'s compares that changes between read and commit makes it re-read and re-validate', async () => {
  const conn = new EtcdConnection({ endpoints: [env.etcd.endpoint], cluster: 'guard2' });
  try {
    const src = env.mkdir('t-old');
    populate(src, { 'f.bin': 10 });
    await addMount(conn, { path: '/t', ufsUri: `file://${src}` });
    const { result: rec } = await startMigration(conn, { path: '/t', to: `file://${env.mkdir('t-new')}` });
    const key = conn.layout.migrationKey(rec.id);
    const seen: number[] = [];
    const { result } = await transact(conn, async (state) => {
      const cur = await getRecord(conn, rec.id, state.revision);
      seen.push(cur.record.files.done);
      if (seen.length === 1) {
        // A copier checkpoint lands after this attempt's read, before its commit.
        assert.notEqual(await casRecord(conn, { ...cur.record, files: { done: 42, total: 100 } }, cur.modRevision), false);
      }
      return { ops: [{ type: 'put', key, value: JSON.stringify({ ...cur.record, note: 'plan' }) }], result: cur.record.files.done, compares: [{ key, modRevision: cur.modRevision }] };
    });
    assert.deepEqual(seen, [0, 42], 'the first attempt lost the compare and the plan ran again on the new record');
    assert.equal(result, 42);
    assert.equal((await getRecord(conn, rec.id)).record.files.done, 42, 'the checkpoint was not overwritten');
  } finally {
    conn.close();
  }
});
