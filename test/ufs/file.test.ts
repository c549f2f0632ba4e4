import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, lstatSync, readlinkSync, statSync, mkdtempSync, mkdirSync, openSync, writeFileSync, writeSync, readFileSync, rmSync, symlinkSync, readdirSync, existsSync, renameSync, realpathSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { parseMount } from '../../src/domain/mounts.js';
import { FileUfs } from '../../src/ufs/file.js';
import { UfsPageSource, versionOf } from '../../src/cache/source.js';
import { UfsRegistry } from '../../src/ufs/registry.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { until } from '../helpers/poll.js';

let dir: string;
let root: string;
let outside: string;
let ufs: FileUfs;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ufs-file-'));
  root = join(dir, 'root');
  outside = join(dir, 'outside');
  mkdirSync(join(root, 'a', 'b'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret');
  writeFileSync(join(root, 'a', 'x.txt'), '0123456789');
  writeFileSync(join(root, 'a', 'b', 'deep'), 'deep');
  writeFileSync(join(root, 'a-b'), 'dash');
  writeFileSync(join(root, 'é'), 'accent');
  writeFileSync(join(root, 'Z'), 'upper');
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(outside, 'secret'), join(root, 'escape-file'));
  symlinkSync(join(root, 'a', 'x.txt'), join(root, 'inner-link'));
  ufs = FileUfs.fromMount(parseMount({ path: '/data', ufsUri: `file://${root}` }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const code = (c: string) => (e: unknown) => e instanceof AlluxioError && e.code === c;

test('stat: files, directories, root, missing', async () => {
  const f = await ufs.stat(['a', 'x.txt']);
  assert.equal(f?.type, 'file');
  assert.equal(f?.size, 10);
  assert.match(f?.etag ?? '', /^[0-9a-f]{32}-1$/);
  assert.equal((await ufs.stat(['a', 'x.txt']))?.etag, f?.etag, 'etag is stable');
  assert.equal((await ufs.stat(['a']))?.type, 'directory');
  assert.equal((await ufs.stat([]))?.type, 'directory');
  assert.equal(await ufs.stat(['nope']), null);
  assert.equal(await ufs.stat(['a', 'x.txt', 'under-a-file']), null);
});

test('list: sorted by UTF-8 bytes, symlinks outside the mount hidden, inner ones followed', async () => {
  const names = (await ufs.list([])).map((e) => e.name);
  assert.deepEqual(names, ['Z', 'a', 'a-b', 'inner-link', 'é']);
  const a = await ufs.list(['a']);
  assert.deepEqual(a.map((e) => [e.name, e.type]), [['b', 'directory'], ['x.txt', 'file']]);
  await assert.rejects(ufs.list(['missing']), code('NotFound'));
  await assert.rejects(ufs.list(['escape']), code('NotFound'));
});

test('read: whole, ranges, escape through a symlink refused', async () => {
  assert.equal(await text(await ufs.read(['a', 'x.txt'])), '0123456789');
  assert.equal(await text(await ufs.read(['a', 'x.txt'], { start: 2, end: 4 })), '234');
  assert.equal(await text(await ufs.read(['a', 'x.txt'], { start: 8, end: 100 })), '89');
  assert.equal(await text(await ufs.read(['inner-link'])), '0123456789');
  await assert.rejects(ufs.read(['escape-file']), code('NotFound'));
  await assert.rejects(ufs.read(['escape', 'secret']), code('NotFound'));
  await assert.rejects(ufs.read(['a']), code('IsADirectory'));
  await assert.rejects(ufs.read(['nope']), code('NotFound'));
});

test('large read streams in order', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  writeFileSync(join(root, 'big'), big);
  const chunks: Buffer[] = [];
  for await (const c of await ufs.read(['big'])) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(big));
  const part: Buffer[] = [];
  for await (const c of await ufs.read(['big'], { start: 1_000_000, end: 2_999_999 })) part.push(c as Buffer);
  assert.ok(Buffer.concat(part).equals(big.subarray(1_000_000, 3_000_000)));
});

test('write: creates parents, replaces atomically, failed body leaves old content and no temp file', async () => {
  const e = await ufs.write(['new', 'dir', 'f'], Readable.from([Buffer.from('hello')]));
  assert.equal(e.size, 5);
  assert.equal(readFileSync(join(root, 'new', 'dir', 'f'), 'utf8'), 'hello');
  const failing = new Readable({
    read() {
      this.push(Buffer.from('partial'));
      this.destroy(new Error('client went away'));
    },
  });
  await assert.rejects(ufs.write(['new', 'dir', 'f'], failing));
  assert.equal(readFileSync(join(root, 'new', 'dir', 'f'), 'utf8'), 'hello');
  assert.deepEqual(readdirSync(join(root, 'new', 'dir')), ['f']);
  await assert.rejects(ufs.write(['a'], Readable.from([Buffer.from('x')])), code('IsADirectory'));
  await assert.rejects(ufs.write(['a', 'x.txt', 'child'], Readable.from([Buffer.from('x')])), code('NotADirectory'));
});

test('write: aroundCommit wraps the rename only; a wrapper that throws leaves the old content and no temp file', async () => {
  await ufs.write(['commit', 'f'], Readable.from([Buffer.from('old')]));
  const seen: string[] = [];
  const e = await ufs.write(['commit', 'f'], Readable.from([Buffer.from('newer')]), {
    aroundCommit: async (commit) => {
      seen.push(readFileSync(join(root, 'commit', 'f'), 'utf8')); // the body staged, the name unchanged
      const done = await commit();
      seen.push(readFileSync(join(root, 'commit', 'f'), 'utf8'));
      return done;
    },
  });
  assert.equal(e.size, 5);
  assert.deepEqual(seen, ['old', 'newer']);
  await assert.rejects(
    ufs.write(['commit', 'f'], Readable.from([Buffer.from('refused')]), {
      aroundCommit: async () => {
        throw new AlluxioError('Conflict', 'a condition failed');
      },
    }),
    code('Conflict'),
  );
  assert.equal(readFileSync(join(root, 'commit', 'f'), 'utf8'), 'newer');
  assert.deepEqual(readdirSync(join(root, 'commit')), ['f']);
});

test('writes through symlinks that leave the mount are refused; outside stays untouched', async () => {
  await assert.rejects(ufs.write(['escape', 'planted'], Readable.from([Buffer.from('x')])), code('UfsAccessDenied'));
  await assert.rejects(ufs.write(['escape-file'], Readable.from([Buffer.from('x')])), code('UfsAccessDenied'));
  await assert.rejects(ufs.mkdir(['escape', 'd']), code('UfsAccessDenied'));
  await assert.rejects(ufs.delete(['escape', 'secret']), code('UfsAccessDenied'));
  assert.deepEqual(readdirSync(outside), ['secret']);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
});

test('hostile segments never leave the root', async () => {
  for (const bad of ['..', '.', '', 'a/../..', '\u0000', 'x\u0000y']) {
    await assert.rejects(ufs.stat([bad]), code('InvalidPath'), JSON.stringify(bad));
    await assert.rejects(ufs.write([bad], Readable.from([Buffer.from('x')])), code('InvalidPath'));
  }
  // backslashes and percent signs are ordinary name characters on POSIX
  await ufs.write(['..%2F..%5Cx'], Readable.from([Buffer.from('ok')]));
  assert.ok(existsSync(join(root, '..%2F..%5Cx')));
  assert.deepEqual(readdirSync(outside), ['secret']);
});

test('delete and mkdir', async () => {
  await ufs.mkdir(['m', 'n']);
  assert.equal((await ufs.stat(['m', 'n']))?.type, 'directory');
  await ufs.write(['m', 'n', 'f'], Readable.from([Buffer.from('1')]));
  await assert.rejects(ufs.delete(['m', 'n']), code('DirectoryNotEmpty'));
  await ufs.delete(['m', 'n', 'f']);
  await ufs.delete(['m', 'n']);
  assert.equal(await ufs.stat(['m', 'n']), null);
  await assert.rejects(ufs.delete(['m', 'n']), code('NotFound'));
});

test('read-only mount refuses every write', async () => {
  const ro = FileUfs.fromMount(parseMount({ path: '/ro', ufsUri: `file://${root}`, readOnly: true }));
  await assert.rejects(ro.write(['ro-file'], Readable.from([Buffer.from('x')])), code('ReadOnlyMount'));
  await assert.rejects(ro.delete(['a', 'x.txt']), code('ReadOnlyMount'));
  await assert.rejects(ro.mkdir(['d']), code('ReadOnlyMount'));
  assert.equal(existsSync(join(root, 'ro-file')), false);
  assert.equal(await text(await ro.read(['a', 'x.txt'])), '0123456789');
});

test('rename: one step, all or nothing: a directory moves whole (links as links, names no front end shows), a file keeps its inode; refusals move nothing', async () => {
  // (the FUSE probe of 2026-12-03: moves were copies entry by entry; one that failed left the
  // tree split between two names, and a link became a copy of its target)
  const src = join(root, 'mv-src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'target'), 't');
  symlinkSync('target', join(src, 'link'));
  symlinkSync('nowhere', join(src, 'dangling'));
  writeFileSync(join(src, 'tab\tname'), 'hidden from listings');
  writeFileSync(join(src, 'sub', 'f'), 'f');
  await ufs.rename(['mv-src'], ['mv-dst']);
  assert.equal(existsSync(src), false);
  const dst = join(root, 'mv-dst');
  assert.deepEqual(readdirSync(dst).sort(), ['dangling', 'link', 'sub', 'tab\tname', 'target']);
  assert.equal(lstatSync(join(dst, 'link')).isSymbolicLink(), true, 'a link stays a link');
  assert.equal(readlinkSync(join(dst, 'dangling')), 'nowhere');
  const ino = statSync(join(dst, 'target')).ino;
  await ufs.rename(['mv-dst', 'target'], ['mv-dst', 'sub', 'moved']);
  assert.equal(statSync(join(dst, 'sub', 'moved')).ino, ino, 'the same file, not a copy');
  // refusals: onto a directory that is not empty, below itself, a parent out of the mount, read-only
  mkdirSync(join(root, 'mv-full'));
  writeFileSync(join(root, 'mv-full', 'x'), 'x');
  await assert.rejects(ufs.rename(['mv-dst'], ['mv-full']), code('DirectoryNotEmpty'));
  await assert.rejects(ufs.rename(['mv-dst'], ['mv-dst', 'sub', 'inside']), code('InvalidArgument'));
  await assert.rejects(ufs.rename(['mv-dst', 'sub', 'f'], ['escape', 'f']), code('UfsAccessDenied'));
  // a link out of the mount moves as a link (its target is neither read nor moved)
  await ufs.rename(['escape-file'], ['mv-dst', 'got-it']);
  assert.equal(lstatSync(join(dst, 'got-it')).isSymbolicLink(), true);
  await ufs.rename(['mv-dst', 'got-it'], ['escape-file']);
  const ro = FileUfs.fromMount(parseMount({ path: '/ro', ufsUri: `file://${root}`, readOnly: true }));
  await assert.rejects(ro.rename!(['mv-dst'], ['mv-ro']), code('ReadOnlyMount'));
  assert.deepEqual(readdirSync(dst).sort(), ['dangling', 'link', 'sub', 'tab\tname']);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
  assert.deepEqual(readdirSync(outside), ['secret']);
  rmSync(dst, { recursive: true });
  rmSync(join(root, 'mv-full'), { recursive: true });
});

test('registry caches per URI + options and replaces changed mounts', async () => {
  const reg = new UfsRegistry({ graceMs: 0 });
  const m1 = parseMount({ path: '/data', ufsUri: `file://${root}` });
  const a1 = reg.adapterFor(m1);
  assert.equal(reg.adapterFor(parseMount({ path: '/data', ufsUri: `file://${root}/` })), a1);
  const a2 = reg.adapterFor(parseMount({ path: '/data', ufsUri: `file://${root}`, readOnly: true }));
  assert.notEqual(a2, a1);
  assert.equal(reg.size, 1);
  reg.retain([]);
  assert.equal(reg.size, 0);
  assert.throws(() => reg.adapterFor(parseMount({ path: '/h', ufsUri: 'hdfs://nn:8020/x' })), code('UfsNotSupported'));
  await reg.closeAll();
});

test('openRead: one open file for metadata and bytes; symlinks leaving the mount are not followed', async () => {
  const f = await ufs.openRead(['a', 'x.txt']);
  assert.ok(f);
  try {
    assert.equal(f.entry.size, 10);
    assert.equal(f.entry.etag, (await ufs.stat(['a', 'x.txt']))?.etag);
    assert.equal(f.readBuffer({ start: 1, end: 3 }).toString(), '123');
    assert.equal(f.readBuffer().toString(), '0123456789');
  } finally {
    f.close();
  }
  const viaLink = await ufs.openRead(['inner-link']);
  assert.equal(viaLink?.readBuffer().toString(), '0123456789');
  viaLink?.close();
  assert.equal(await ufs.openRead(['escape-file']), null, 'last name is a symlink to outside');
  assert.equal(await ufs.openRead(['escape', 'secret']), null, 'parent is a symlink to outside');
  assert.equal(await ufs.openRead(['nope']), null);
  assert.equal(await ufs.openRead(['a', 'x.txt', 'below-a-file']), null);
  const d = await ufs.openRead(['a']);
  assert.equal(d?.entry.type, 'directory');
  d?.close();
  const big = await ufs.openRead(['big']);
  assert.ok(big);
  const chunks: Buffer[] = [];
  for await (const c of big.stream({ start: 5, end: 2_000_004 })) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).length, 2_000_000);
  // sendTo: reused buffers, backpressure from a slow consumer, exact bytes
  const whole = readFileSync(join(root, 'big'));
  const got: Buffer[] = [];
  const slow = new Writable({
    highWaterMark: 1024,
    write(c: Buffer, _e, cb) {
      got.push(Buffer.from(c)); // copy: the sender reuses its buffers after cb
      setImmediate(cb);
    },
  });
  const f2 = await ufs.openRead(['big']);
  try {
    await f2!.sendTo!(slow, { start: 123, end: whole.length - 2 });
  } finally {
    f2!.close();
  }
  assert.ok(Buffer.concat(got).equals(whole.subarray(123, whole.length - 1)));
});

test('a directory swapped for a symlink to outside is refused at once by every read path', async () => {
  mkdirSync(join(root, 'swap'));
  writeFileSync(join(root, 'swap', 'x'), 'inside');
  const out2 = join(dir, 'outside2');
  mkdirSync(out2);
  writeFileSync(join(out2, 'x'), 'OUTSIDE');
  // Read once first: any cached knowledge about root/swap would be fresh now.
  const first = await ufs.openRead(['swap', 'x']);
  assert.equal(first?.readBuffer().toString(), 'inside');
  first?.close();
  assert.equal((await ufs.stat(['swap', 'x']))?.size, 6);
  renameSync(join(root, 'swap'), join(root, 'swap-old'));
  symlinkSync(out2, join(root, 'swap'));
  // no wait
  assert.equal(await ufs.openRead(['swap', 'x']), null);
  assert.equal(await ufs.stat(['swap', 'x']), null);
  await assert.rejects(ufs.read(['swap', 'x']), code('NotFound'));
  await assert.rejects(ufs.readBuffer(['swap', 'x']), code('NotFound'));
  assert.equal(await ufs.localFile(['swap', 'x']), null);
  await assert.rejects(ufs.list(['swap']), code('NotFound'));
  await assert.rejects(ufs.write(['swap', 'y'], Readable.from([Buffer.from('planted')])), code('UfsAccessDenied'));
  assert.deepEqual(readdirSync(out2), ['x']);
  // and back: the inside directory is readable again at once
  rmSync(join(root, 'swap'));
  renameSync(join(root, 'swap-old'), join(root, 'swap'));
  const again = await ufs.openRead(['swap', 'x']);
  assert.equal(again?.readBuffer().toString(), 'inside');
  again?.close();
  const local = await ufs.localFile(['swap', 'x']);
  assert.equal(local?.path, join(realpathSync(root), 'swap', 'x'));
});


test('a directory flipping between a real directory and a symlink to outside never yields outside bytes', async (t) => {
  const flip = join(root, 'flip');
  const out3 = join(dir, 'outside3');
  mkdirSync(flip);
  mkdirSync(out3);
  writeFileSync(join(flip, 'x'), 'inside');
  writeFileSync(join(out3, 'x'), 'OUTSIDE');
  // Another process swaps root/flip between the real directory and a symlink to outside,
  // 200 times back to back, then leaves the real directory in place for a moment (so reads
  // also find it there on a loaded machine), and again, until its stdin closes.
  const flipper = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); const [link, parked, out] = process.argv.slice(1);
       let stop = false; process.stdin.on('end', () => { stop = true; }); process.stdin.resume();
       let n = 0; console.log('ready');
       const tick = () => {
         for (let i = 0; i < 200 && !stop; i++, n++) {
           fs.renameSync(link, parked); fs.symlinkSync(out, link); fs.unlinkSync(link); fs.renameSync(parked, link);
         }
         if (stop) { console.log('flips ' + n); process.exit(0); }
         setTimeout(tick, 1);
       };
       tick();`,
      flip,
      join(root, 'flip.parked'),
      out3,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let outText = '';
  flipper.stdout!.on('data', (d) => (outText += d));
  const done = new Promise<void>((resolve) => flipper.on('exit', () => resolve()));
  try {
    await until('the flipper to start', () => outText.includes('ready'));
    // The window is real: a plain read through root/flip (what an adapter without the
    // guard would do) does land on the outside file while the flipper runs.
    const naive = await until(
      'a plain fs read through the flipping directory to see the outside file',
      () => {
        for (let k = 0; k < 500; k++) {
          try {
            if (readFileSync(join(flip, 'x'), 'utf8') === 'OUTSIDE') return k + 1;
          } catch {
            /* parked at that instant */
          }
        }
        return false;
      },
      30_000,
      1,
    );
    // Every outcome must be one of the allowed kinds; anything else fails at once. At least
    // 3000 rounds, and on until each read path has also served the inside file (it is
    // not enough to refuse everything), within a minute.
    const seen = { openInside: 0, openRefused: 0, readInside: 0, readNotFound: 0, statInside: 0, statMissing: 0 };
    const deadline = Date.now() + 60_000;
    const servedInside = () => seen.openInside > 0 && seen.readInside > 0 && seen.statInside > 0;
    for (let i = 0; i < 3000 || (!servedInside() && Date.now() < deadline); i++) {
      const f = await ufs.openRead(['flip', 'x']);
      if (f) {
        let b: string;
        try {
          assert.equal(f.entry.type, 'file', 'openRead described something else than the inside file');
          assert.equal(f.entry.size, 6, 'openRead described the outside file');
          b = f.readBuffer().toString();
        } finally {
          f.close();
        }
        assert.equal(b, 'inside', 'openRead returned bytes from outside the mount');
        seen.openInside++;
      } else seen.openRefused++;
      let body: string | undefined;
      try {
        body = await text(await ufs.read(['flip', 'x']));
      } catch (e) {
        if (!code('NotFound')(e)) throw e;
        seen.readNotFound++;
      }
      if (body !== undefined) {
        assert.equal(body, 'inside', 'read returned bytes from outside the mount');
        seen.readInside++;
      }
      const st = await ufs.stat(['flip', 'x']);
      if (st) {
        assert.equal(st.type, 'file');
        assert.equal(st.size, 6, 'stat described the outside file');
        seen.statInside++;
      } else seen.statMissing++;
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    t.diagnostic(`plain read hit the outside file after ${naive} tries; adapter outcomes: ${JSON.stringify(seen)}`);
    // The adapter is not simply refusing everything: while the real directory was in
    // place, each read path served the inside bytes.
    assert.ok(seen.openInside > 0, `openRead never served the inside file: ${JSON.stringify(seen)}`);
    assert.ok(seen.readInside > 0, `read never served the inside file: ${JSON.stringify(seen)}`);
    assert.ok(seen.statInside > 0, `stat never described the inside file: ${JSON.stringify(seen)}`);
  } finally {
    flipper.stdin!.end();
    await done;
  }
  const flips = Number(/flips (\d+)/.exec(outText)?.[1]);
  assert.ok(flips > 0, `the flipper never flipped: ${outText}`);
  assert.equal(readFileSync(join(out3, 'x'), 'utf8'), 'OUTSIDE');
});

test('a miss does not hide a file written right after it into a new directory', async () => {
  assert.equal(await ufs.openRead(['fresh-dir', 'obj']), null);
  await assert.rejects(ufs.read(['fresh-dir', 'obj']), code('NotFound'));
  assert.equal(await ufs.stat(['fresh-dir', 'obj']), null);
  await ufs.write(['fresh-dir', 'obj'], Readable.from([Buffer.from('new bytes')]));
  // no wait
  const f = await ufs.openRead(['fresh-dir', 'obj']);
  assert.ok(f, 'openRead finds the new object');
  assert.equal(f.readBuffer().toString(), 'new bytes');
  f.close();
  assert.equal(await text(await ufs.read(['fresh-dir', 'obj'])), 'new bytes');
  assert.equal((await ufs.stat(['fresh-dir', 'obj']))?.size, 9);
  // and a directory made by mkdir
  assert.equal(await ufs.openRead(['made', 'f']), null);
  await ufs.mkdir(['made']);
  writeFileSync(join(root, 'made', 'f'), 'm');
  assert.equal((await ufs.openRead(['made', 'f']))?.entry.size, 1);
});

/** A stream read to its end or its error; `onFirst` runs after its first chunk (a change made mid-read). */
function readAll(s: Readable, onFirst: () => void): Promise<{ chunks: Buffer[]; err?: Error }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (chunks.length === 1) onFirst();
    });
    s.on('error', (err) => resolve({ chunks, err }));
    s.on('end', () => resolve({ chunks }));
  });
}

test('a cache page fill (UfsPageSource: an exact stream) is a Conflict when the file is truncated and rewritten LARGER in place while it streams; a plain stream reads on, as through an append', async () => {
  // The fuzz probe of 2026-12-02: truncate(0) + a larger write between two chunk reads passed
  // for an append, and a page held the old version's bytes, then the new one's.
  const p = join(root, 'regrow.bin');
  const size = 3 * 256 * 1024;
  const regrow = (fill: number, to: number) => () => {
    const fd = openSync(p, 'r+'); // same inode
    ftruncateSync(fd, 0);
    writeSync(fd, Buffer.alloc(to, fill), 0, to, 0);
    closeSync(fd);
  };
  writeFileSync(p, Buffer.alloc(size, 0x41));
  const opened = (await ufs.openRead(['regrow.bin']))!;
  const ref = { uri: 'file:///regrow.bin', version: versionOf(opened.entry), size };
  opened.close();
  const fill = await readAll(await new UfsPageSource(ufs, ['regrow.bin']).read(ref, { start: 0, end: size - 1 }), regrow(0x42, size + 4096));
  assert.ok(fill.err instanceof AlluxioError && fill.err.code === 'Conflict', `a Conflict (${String(fill.err)})`);
  assert.match(fill.err.message, /changed \(content, size, times, a rename or a chmod\) while it was read/, 'an exact read names any change, not only a rewrite');
  assert.ok(Buffer.concat(fill.chunks).every((b) => b === 0x41), 'only bytes of the version opened were handed out');
  // (a plain read of the file, as FUSE's, reads on: it cannot tell this from an append)
  const plain = (await ufs.openRead(['regrow.bin']))!;
  const read = await readAll(plain.stream({ start: 0, end: size - 1 }), regrow(0x43, size + 8192));
  assert.equal(read.err, undefined);
});

test('a cache page fill reads on through a new version renamed over its file (the bytes it reads are the open inode\'s, unchanged)', async () => {
  // The cluster probe of 2026-12-03: the rename took the old inode's last link, which moved
  // its ctime, and readers got 409s for a version whose bytes never changed.
  const p = join(root, 'replaced.bin');
  const size = 3 * 256 * 1024;
  const fillOf = async (): Promise<Readable> => {
    const opened = (await ufs.openRead(['replaced.bin']))!;
    const ref = { uri: 'file:///replaced.bin', version: versionOf(opened.entry), size };
    opened.close();
    return new UfsPageSource(ufs, ['replaced.bin']).read(ref, { start: 0, end: size - 1 });
  };
  writeFileSync(p, Buffer.alloc(size, 0x41));
  // (the kernel's coarse clock past the file's ctime, so that the rename does move it)
  await until('the file\'s ctime is in the past', () => Date.now() - statSync(p).ctimeMs > 20);
  const replaced = await readAll(await fillOf(), () => {
    writeFileSync(`${p}.new`, Buffer.alloc(size, 0x42));
    renameSync(`${p}.new`, p);
  });
  assert.equal(replaced.err, undefined, String(replaced.err));
  const bytes = Buffer.concat(replaced.chunks);
  assert.equal(bytes.length, size);
  assert.ok(bytes.every((b) => b === 0x41), 'the version opened, whole');
});

test('openRead: a file rewritten in place while it streams (or before a small read) is a Conflict, never its new bytes after the old ones; an append reads on', async () => {
  // The re-probe of 2026-12-01: a stream the client left early went on filling cache pages
  // from the open file after a rewrite in place: new bytes under the old version's key.
  const p = join(root, 'inplace.bin');
  const size = 3 * 256 * 1024; // three chunks of the stream
  writeFileSync(p, Buffer.alloc(size, 0x41));
  const f = (await ufs.openRead(['inplace.bin']))!;
  const chunks: Buffer[] = [];
  const err = await new Promise<Error | undefined>((resolve) => {
    const s = f.stream({ start: 0, end: size - 1 });
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (chunks.length === 1) writeFileSync(p, Buffer.alloc(size, 0x42), { flag: 'r+' }); // same inode, same size
    });
    s.on('error', resolve);
    s.on('end', () => resolve(undefined));
  });
  assert.ok(err instanceof AlluxioError && err.code === 'Conflict', `a Conflict (${String(err)})`);
  assert.match((err as AlluxioError).message, /was rewritten in place while it was read/);
  assert.ok(Buffer.concat(chunks).every((b) => b === 0x41), 'only bytes of the version opened were handed out');
  const small = (await ufs.openRead(['inplace.bin']))!;
  writeFileSync(p, Buffer.alloc(size, 0x43), { flag: 'r+' });
  assert.throws(() => small.readBuffer!({ start: 0, end: 99 }), (e: AlluxioError) => e.code === 'Conflict');
  small.close();
  const grows = (await ufs.openRead(['inplace.bin']))!;
  writeFileSync(p, 'appended', { flag: 'a' });
  assert.ok(((await grows.readBuffer!({ start: 0, end: 99 })) as Buffer).every((b) => b === 0x43), 'an append leaves the bytes opened as they were');
  grows.close();
  // sendTo (a worker without a cache, bodies over 256 KiB) checks each read too: it sent the
  // old bytes, then the new ones, under the old version's ETag (review16 #5).
  writeFileSync(p, Buffer.alloc(size, 0x41));
  const sent: Buffer[] = [];
  const pumped = (await ufs.openRead(['inplace.bin']))!;
  const sink = new Writable({
    highWaterMark: 1,
    write(c: Buffer, _e, cb) {
      sent.push(Buffer.from(c));
      if (sent.length === 1) writeFileSync(p, Buffer.alloc(size, 0x42), { flag: 'r+' });
      setImmediate(cb);
    },
  });
  await assert.rejects(pumped.sendTo!(sink), (e: AlluxioError) => e.code === 'Conflict');
  pumped.close();
  assert.ok(Buffer.concat(sent).every((b) => b === 0x41), 'only bytes of the version opened were sent');
});
