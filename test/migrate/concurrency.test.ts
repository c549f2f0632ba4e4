/**
 * Races against a real etcd (library calls, no copier processes): `migrate start` racing
 * `mount update` on the same mount, and racing starts on one mount. Whatever the order,
 * the outcome is consistent: at most one migration per mount, its recorded old binding
 * is what the mount really had, the mount is read-only, and a losing update is refused (3).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdConnection } from '../../src/store/connection.js';
import { addMount, listMounts, updateMount } from '../../src/control/mounts.js';
import { abort, startMigration } from '../../src/control/migrations.js';
import { listRecords } from '../../src/migrate/store.js';
import { isActive } from '../../src/migrate/record.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let conn: EtcdConnection;
let dir: string;

before(async () => {
  etcd = await startTestEtcd();
  conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'race' });
  dir = mkdtempSync(join(tmpdir(), 'migrate-race-'));
});
after(async () => {
  conn?.close();
  await etcd?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function d(name: string): string {
  const p = join(dir, name);
  mkdirSync(p, { recursive: true });
  return p;
}

test('migrate start racing mount update: consistent whichever wins', async (t) => {
  let startsWon = 0;
  let updatesWon = 0;
  for (let i = 0; i < 12; i++) {
    const path = `/r${i}`;
    const a = d(`a${i}`);
    const b = d(`b${i}`);
    writeFileSync(join(a, 'f'), 'a');
    writeFileSync(join(b, 'f'), 'b');
    await addMount(conn, { path, ufsUri: `file://${a}` });
    const [s, u] = await Promise.allSettled([
      startMigration(conn, { path, to: `file://${d(`new${i}`)}` }),
      // Staggered so that both orders happen (start does a pre-flight listing first).
      new Promise((r) => setTimeout(r, i * 8)).then(() => updateMount(conn, { path, ufsUri: `file://${b}` })),
    ]);
    const mount = (await listMounts(conn)).mounts.find((m) => m.path === path)!;
    const recs = (await listRecords(conn)).records.map((x) => x.record).filter((r) => r.path === path && isActive(r));
    if (u.status === 'rejected') {
      assert.ok(u.reason instanceof AlluxioError && u.reason.code === 'MigrationInProgress' && u.reason.exitCode === 3, String(u.reason));
    }
    assert.equal(s.status, 'fulfilled', s.status === 'rejected' ? String(s.reason) : '');
    assert.equal(recs.length, 1);
    const rec = recs[0]!;
    assert.equal(mount.readOnly, true);
    assert.equal(rec.from.ufsUri, mount.ufsUri, 'the record holds the binding the mount really has');
    if (u.status === 'fulfilled') {
      updatesWon++;
      assert.equal(mount.ufsUri, `file://${b}/`);
    } else {
      startsWon++;
      assert.equal(mount.ufsUri, `file://${a}/`);
    }
    // Abort restores what the mount had when the migration started.
    await abort(conn, rec.id);
    const restored = (await listMounts(conn)).mounts.find((m) => m.path === path)!;
    assert.deepEqual(restored, { ...mount, readOnly: false });
  }
  assert.equal(startsWon + updatesWon, 12);
  t.diagnostic(`start first: ${startsWon}, update first: ${updatesWon}`);
});

test('racing starts on one mount: exactly one wins, the others are MigrationInProgress (3); ids are unique', async () => {
  const a = d('one');
  writeFileSync(join(a, 'f'), 'x');
  await addMount(conn, { path: '/one', ufsUri: `file://${a}` });
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => startMigration(conn, { path: '/one', to: `file://${d(`one-new${i}`)}` })));
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 1);
  for (const r of results) {
    if (r.status === 'rejected') assert.ok(r.reason instanceof AlluxioError && r.reason.code === 'MigrationInProgress', String(r.reason));
  }
  // Starts on different mounts at once all succeed, each with its own id.
  const paths = ['/p1', '/p2', '/p3', '/p4'];
  for (const p of paths) {
    const src = d(`src${p}`);
    writeFileSync(join(src, 'f'), 'x');
    await addMount(conn, { path: p, ufsUri: `file://${src}` });
  }
  const many = await Promise.all(paths.map((p) => startMigration(conn, { path: p, to: `file://${d(`dst${p}`)}` })));
  assert.equal(new Set(many.map((m) => m.result.id)).size, paths.length);
  const ids = (await listRecords(conn)).records.map((x) => x.record.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(ids.length, 12 + 1 + paths.length);
});
