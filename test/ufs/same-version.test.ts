/**
 * sameVersion: what the FUSE daemon compares before removing an unlinked file's object
 * (another client may have written the name meanwhile) and before a reader beside a closed
 * writer reads its upload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameVersion, type UfsEntry } from '../../src/ufs/types.js';

const file = (over: Partial<UfsEntry> = {}): UfsEntry => ({ name: 'a', type: 'file', size: 3, mtimeMs: 1000, ...over });

test('file:// stats (no ETag): size and mtime', () => {
  assert.equal(sameVersion(file(), file()), true);
  assert.equal(sameVersion(file({ mtimeMs: 1001 }), file()), false);
  assert.equal(sameVersion(file({ size: 4 }), file()), false);
});

test('object stores: size and ETag, whatever the mtime', () => {
  assert.equal(sameVersion(file({ etag: 'x', mtimeMs: 5 }), file({ etag: 'x' })), true);
  assert.equal(sameVersion(file({ etag: 'y' }), file({ etag: 'x' })), false);
  assert.equal(sameVersion(file({ etag: 'x', size: 4 }), file({ etag: 'x' })), false);
  assert.equal(sameVersion(file(), file({ etag: 'x' })), false, 'a stat without the ETag the version had');
});

test('a directory is never the version of a file', () => {
  assert.equal(sameVersion(file({ type: 'directory' }), file()), false);
});
