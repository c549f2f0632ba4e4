/** The migration record's state machine and formatting (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlluxioError } from '../../src/domain/errors.js';
import { etaSeconds, isActive, nextMigrationId, parseBytes, parseMigrationId, progressLine, statusDoc, transition, type MigrationRecord, type MigrationState } from '../../src/migrate/record.js';

function rec(state: MigrationState, over: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    id: 'm-1',
    path: '/data',
    state,
    from: { ufsUri: 'file:///old/', options: {} },
    to: { ufsUri: 's3://b/data/', options: { 's3a.secretKey': 'shh', 's3a.region': 'eu' } },
    previousReadOnly: false,
    verify: 'size',
    concurrency: 4,
    bandwidth: 0,
    files: { done: 5, total: 10 },
    bytes: { done: 512, total: 2048 },
    verified: { files: 0, bytes: 0 },
    checkpoint: { cursor: 'e', ahead: [], recopy: [] },
    rate: 256,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    history: [{ state, at: '2026-01-01T00:00:00.000Z' }],
    ...over,
  };
}

const invalid = (e: unknown) => e instanceof AlluxioError && e.code === 'InvalidState' && e.exitCode === 3;

test('transitions: the happy path, rollback, abort, failure and resume; everything else is InvalidState (3)', () => {
  const now = new Date('2026-02-02T00:00:00Z');
  let r = rec('copying');
  for (const s of ['verifying', 'ready', 'cut-over', 'rolled-back'] as const) r = transition(r, s, now);
  assert.equal(r.state, 'rolled-back');
  assert.deepEqual(r.history.map((h) => h.state), ['copying', 'verifying', 'ready', 'cut-over', 'rolled-back']);
  for (const s of ['copying', 'verifying', 'ready', 'failed'] as const) assert.equal(transition(rec(s), 'aborted', now).state, 'aborted');
  assert.equal(transition(rec('failed', { error: { code: 'X', message: 'y' } }), 'copying', now).error, undefined);
  assert.throws(() => transition(rec('copying'), 'cut-over', now), invalid);
  assert.throws(() => transition(rec('failed'), 'cut-over', now), invalid);
  assert.throws(() => transition(rec('cut-over'), 'aborted', now), invalid);
  assert.throws(() => transition(rec('aborted'), 'copying', now), invalid);
  assert.throws(() => transition(rec('rolled-back'), 'cut-over', now), invalid);
  assert.deepEqual((['copying', 'verifying', 'ready', 'failed', 'cut-over', 'rolled-back', 'aborted'] as const).filter((s) => isActive({ state: s })), ['copying', 'verifying', 'ready', 'failed']);
});

test('ids: m-N, next is max+1, bad ids are usage errors (2)', () => {
  assert.equal(nextMigrationId([]), 'm-1');
  assert.equal(nextMigrationId(['m-1', 'm-10', 'm-3', 'junk']), 'm-11');
  assert.equal(parseMigrationId('m-7'), 'm-7');
  for (const bad of ['m-0', 'm-01', '1', 'm-', 'm-1/x', '../m-1']) assert.throws(() => parseMigrationId(bad), (e: unknown) => e instanceof AlluxioError && e.exitCode === 2);
});

test('sizes, ETA, progress line and the status document (secrets redacted)', () => {
  assert.equal(parseBytes('64k', '--bandwidth'), 65536);
  assert.equal(parseBytes('10MiB', '--bandwidth'), 10 * 1024 * 1024);
  assert.equal(parseBytes('1g/s', '--bandwidth'), 1024 ** 3);
  assert.throws(() => parseBytes('fast', '--bandwidth'), (e: unknown) => e instanceof AlluxioError && e.exitCode === 2);
  assert.equal(etaSeconds(rec('copying')), 6); // (2048-512)/256
  assert.equal(etaSeconds(rec('copying', { rate: 0 })), null);
  assert.equal(etaSeconds(rec('ready')), 0);
  const line = progressLine(rec('copying'));
  assert.match(line, /^m-1 copying\s+\[#{6}-{18}\]\s+25%\s+512 B\/2\.0 KiB\s+5\/10 files\s+256 B\/s\s+ETA 6s$/);
  const d = statusDoc(rec('failed', { error: { code: 'ChecksumMismatch', message: 'a.bin', files: ['a.bin'] } }), false);
  assert.equal(d.from, 'file:///old/');
  assert.equal(d.to, 's3://b/data/');
  assert.deepEqual(d.binding.to.options, { 's3a.secretKey': '***', 's3a.region': 'eu' });
  assert.deepEqual(d.error?.files, ['a.bin']);
  assert.equal(statusDoc(rec('ready'), true, true).binding.to.options['s3a.secretKey'], 'shh');
  // a copier that is not running copies nothing: no rate, no ETA (it showed the last ones)
  assert.deepEqual([statusDoc(rec('copying'), true).rate, statusDoc(rec('copying'), true).eta], [256, 6]);
  assert.deepEqual([statusDoc(rec('copying'), false).rate, statusDoc(rec('copying'), false).eta], [0, null]);
});

test('a refused transition says what would work: abort, not "wait for ready", for a rollback of a copy', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.throws(() => transition(rec('copying'), 'rolled-back', now), /rollback undoes a cutover; .*alluxio migrate abort --id m-1/);
  assert.throws(() => transition(rec('copying'), 'cut-over', now), /wait for ready/);
});

test('listing fingerprints: v2 has the version tags (a rewrite with the mtime put back changes it); v1, of older records, is what it was; listingDiff names a file by its ctime', async () => {
  const { fingerprint, listingDiff } = await import('../../src/migrate/copier.js');
  const a = { rel: ['a'], key: 'a', size: 3, mtimeMs: 1000, etag: 'e1', changedMs: 1000 };
  const rewritten = { ...a, etag: 'e2', changedMs: 9000 };
  assert.notEqual(fingerprint([a]).sha256, fingerprint([rewritten]).sha256);
  // an inode that differs from listing to listing (sshfs, FUSE object-store mounts) is no change
  assert.equal(fingerprint([a]).sha256, fingerprint([{ ...a, etag: 'another inode, same ctime' }]).sha256);
  const s3 = { rel: ['a'], key: 'a', size: 3, mtimeMs: 1000, etag: 'md5-1' };
  assert.notEqual(fingerprint([s3]).sha256, fingerprint([{ ...s3, etag: 'md5-2' }]).sha256, 'no ctime: the ETag');
  assert.equal(fingerprint([a]).v, 2);
  const v1 = fingerprint([a], 1);
  assert.equal(v1.v, undefined);
  assert.equal(v1.sha256, fingerprint([rewritten], 1).sha256, 'v1: path, size and mtime only');
  // the v1 digest is the one records written before 2026-12-02 hold
  const { createHash } = await import('node:crypto');
  assert.equal(v1.sha256, createHash('sha256').update('a\t3\t1000\n').digest('hex'));
  const copy = { rel: ['a'], key: 'a', size: 3, mtimeMs: 5000 };
  assert.deepEqual(listingDiff([a], [copy]).changed, [], 'unchanged since its copy');
  assert.deepEqual(listingDiff([rewritten], [copy]).changed, ['a'], 'changed after its copy (ctime), mtime put back');
});
