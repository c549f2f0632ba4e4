/**
 * Races against a real etcd (library calls, no copier processes): `migrate start` racing
 * `mount update` on the same mount, and racing starts on one mount. Whatever the order,
 * the outcome is consistent, checked against etcd's own history of the keys: exactly one
 * migration per mount, an update either committed before the start (which then records
 * the updated binding) or was refused (3) without writing anything, the recorded old
 * binding is what the mount really had, and the mount is read-only.
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
import { keyHistory } from '../helpers/etcd-history.js';

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

test('migrate start racing mount update: one migration, the update lands before it or is refused, etcd agrees', async (t) => {
  const orders = { updateFirst: 0, startFirst: 0 };
  for (let i = 0; i < 12; i++) {
    const path = `/r${i}`;
    const a = d(`a${i}`);
    const b = d(`b${i}`);
    writeFileSync(join(a, 'f'), 'a');
    writeFileSync(join(b, 'f'), 'b');
    const added = await addMount(conn, { path, ufsUri: `file://${a}` });
    const [s, u] = await Promise.allSettled([
      startMigration(conn, { path, to: `file://${d(`new${i}`)}` }),
      // Staggered so that both orders are likely (start does a pre-flight listing first);
      // this is jitter, not synchronisation: every order must satisfy what follows.
      new Promise((r) => setTimeout(r, i * 8)).then(() => updateMount(conn, { path, ufsUri: `file://${b}` })),
    ]);
    // The start always succeeds: an update before it only changes what it records.
    assert.equal(s.status, 'fulfilled', s.status === 'rejected' ? String(s.reason) : '');
    const started = s.value;
    const rec = started.result;
    const aEntry = { path, ufsUri: `file://${a}/`, readOnly: false, options: {} };
    const bEntry = { ...aEntry, ufsUri: `file://${b}/` };
    // What etcd really holds and held, read from its history (not through the code under test).
    const mountVersions = (await keyHistory(etcd.endpoint, conn.layout.mountKey(path))).map((v) => ({ rev: v.modRevision, entry: JSON.parse(v.value) }));
    const recVersions = await keyHistory(etcd.endpoint, conn.layout.migrationKey(rec.id));
    // Exactly one migration of this mount was ever recorded, by the start's own commit.
    const forPath = (await listRecords(conn)).records.filter((x) => x.record.path === path);
    assert.deepEqual(forPath.map((x) => x.record.id), [rec.id], 'exactly one migration of the mount');
    assert.equal(recVersions[0]?.modRevision, started.revision, "the record was created by the start's commit");
    assert.deepEqual(JSON.parse(recVersions[0]!.value), rec, 'the record in etcd is the one start returned');
    assert.ok(isActive(rec));
    let held: typeof aEntry;
    if (u.status === 'fulfilled') {
      orders.updateFirst++;
      // The update committed BEFORE the start and the start recorded the updated binding.
      assert.ok(u.value.revision < started.revision, `update at ${u.value.revision} committed after the start at ${started.revision}`);
      held = bEntry;
      assert.deepEqual(mountVersions, [
        { rev: added.revision, entry: aEntry },
        { rev: u.value.revision, entry: bEntry },
        { rev: started.revision, entry: { ...bEntry, readOnly: true } },
      ]);
    } else {
      orders.startFirst++;
      // Refused with MigrationInProgress (exit 3), naming this migration, and nothing written.
      assert.ok(u.reason instanceof AlluxioError, String(u.reason));
      assert.equal(u.reason.code, 'MigrationInProgress', u.reason.message);
      assert.equal(u.reason.exitCode, 3);
      assert.equal((u.reason.details as { id?: string } | undefined)?.id, rec.id, u.reason.message);
      held = aEntry;
      assert.deepEqual(mountVersions, [
        { rev: added.revision, entry: aEntry },
        { rev: started.revision, entry: { ...aEntry, readOnly: true } },
      ]);
    }
    assert.deepEqual(rec.from, { ufsUri: held.ufsUri, options: {} }, 'the record holds the binding the mount really had');
    assert.equal(rec.previousReadOnly, false);
    // The listing agrees with etcd: held binding, read-only, nothing else changed it.
    const mount = (await listMounts(conn)).mounts.find((m) => m.path === path);
    assert.deepEqual(mount, { ...held, readOnly: true });
    // Abort restores what the mount had when the migration started.
    await abort(conn, rec.id);
    const restored = (await listMounts(conn)).mounts.find((m) => m.path === path);
    assert.deepEqual(restored, held);
  }
  t.diagnostic(`update committed first: ${orders.updateFirst}, start first (update refused): ${orders.startFirst}`);
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
