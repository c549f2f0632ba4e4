/**
 * The POSIX differential tester (test/fuse/posix-difftest.py) on a real FUSE mount of a
 * file:// UFS: seeded random sequences of open/read/write/truncate/rename/unlink/mkdir/
 * rmdir/listdir/fsync on up to 12 descriptors, run in lockstep below the mount and on a
 * local directory, every outcome compared (bytes, sizes, errno names), then the final trees
 * byte for byte. Only the differences docs/fuse.md documents are tolerated (the tester's
 * docstring quotes them). A few short seeds here; longer sweeps by hand:
 *   python3 test/fuse/posix-difftest.py --fuse MNT/x --ref /tmp/ref --seed N --ops 1500 --log run.jsonl
 *   python3 test/fuse/posix-difftest.py --fuse MNT/x --ref /tmp/ref --replay run.jsonl --min
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { fuseSkipReason, run, startFuse, stopFuseThen, type FuseProcess } from '../helpers/fuse.js';

const skip = fuseSkipReason();
const TESTER = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'test', 'fuse', 'posix-difftest.py');
// (seeds whose sequences pass today; each run is a few seconds of real operations)
const SEEDS = [1, 2, 3, 4];
const OPS = 600;

describe('POSIX differential tester on a FUSE mount (file://)', { skip }, () => {
  let etcd: TestEtcd;
  let fuse: FuseProcess | undefined;
  let dir: string;

  before(async () => {
    etcd = await startTestEtcd();
    const cli = cliFor(etcd.endpoint, 'difftest');
    dir = mkdtempSync(join(tmpdir(), 'alluxio-test-difftest-'));
    mkdirSync(join(dir, 'ufs'));
    mkdirSync(join(dir, 'ref'));
    const r = await cli(['mount', 'add', '--path', '/dt', '--ufs-uri', `file://${join(dir, 'ufs')}/`]);
    assert.equal(r.code, 0, r.stderr);
    fuse = await startFuse(etcd.endpoint, { cluster: 'difftest' });
  });

  after(() => stopFuseThen(fuse, () => etcd?.destroy(), () => dir && rmSync(dir, { recursive: true, force: true })));

  for (const seed of SEEDS) {
    it(`seed ${seed}, ${OPS} operations: the same outcomes as a local file system`, async () => {
      const log = join(dir, `seed-${seed}.jsonl`);
      const r = await run('python3', [TESTER, '--fuse', join(fuse!.mountpoint, 'dt'), '--ref', join(dir, 'ref'), '--seed', String(seed), '--ops', String(OPS), '--log', log], { timeoutMs: 300_000 });
      assert.equal(r.code, 0, `diverged (replay: python3 test/fuse/posix-difftest.py --fuse MNT --ref REF --replay ${log} --min)\n${r.stdout.toString()}\n${r.stderr}`);
    });
  }
});
