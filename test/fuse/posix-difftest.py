#!/usr/bin/python3
"""POSIX differential tester for the FUSE mount: a seeded random sequence of file system
operations run in lockstep on two directory trees, one below the FUSE mount and one on a
local file system (ext4 under /tmp), comparing every outcome.

Usage (Python 3.11 standard library only):

    posix-difftest.py --fuse MNT/loc/dt --ref /tmp/ref --seed 7 --ops 1500 [--log run.jsonl]
    posix-difftest.py --fuse MNT/loc/dt --ref /tmp/ref --replay run.jsonl [--min]

--fuse and --ref are PARENT directories (created when missing): every execution makes a
fresh empty subdirectory `dt-<seed>-<pid>-<n>` in each and works only below it (replays
and every trial of --min too). Exit 0: no divergence; 1: a divergence (printed: the step,
the op, both outcomes); 2: usage; 3: an operation hung (--op-timeout, default 60 s).

Operations, on up to 12 descriptors (slots) and a small namespace, so that collisions are
frequent (names a, b, c, x, y, z, new ones made at most 3 levels deep, though renames of
directories can move them deeper; existing names are picked more often than new ones; a
name is a file in one place and a directory in another):
  open (O_RDONLY/O_WRONLY/O_RDWR with any of O_CREAT, O_TRUNC, O_APPEND, O_EXCL), close,
  read, pread, write, pwrite, lseek (SET/CUR/END), ftruncate, truncate (by name),
  fstat/stat (type, and size for regular files only), fsync, rename (files and
  directories, onto existing names too), unlink, mkdir, rmdir, listdir (sorted names).
Write sizes go from 0 to 300 KiB and offsets cluster around 64 KiB and 1 MiB, so files
cross those boundaries. Outcomes compared: return values, bytes read, errno NAMES. At the
end every descriptor is closed (outcomes compared) and the two trees are compared: names,
types, and file contents byte for byte.

--log FILE writes the operations as JSON lines (a header line, then one op per line,
written before the op runs, so a hang leaves the op that hung last). Write data is not
stored: each write op carries a data seed (`ds`) and a length; the bytes are
random.Random(ds).randbytes(len). --replay FILE runs a log again; with --min it
delta-minimises it (ddmin) to a short sequence that still diverges the same way (same op
kind and same pair of outcome kinds, or the same kind of final-tree difference), each
trial on fresh empty subdirectories, and writes FILE.min.jsonl. Slots a shorter sequence
never opened make their ops no-ops on both sides. --without KINDS leaves op kinds out of a
generated sequence (to bisect which ones a failure needs).

ECONNABORTED or ENOTCONN on the FUSE side means the daemon died (check its log; the
2026-12-02 sweep found it segfaulting when two testers ran at once; fixed the same day in
the native binding, docs/fuse.md "Life cycle"): every later run fails
until it is mounted again.

DOCUMENTED DIFFERENCES FROM A LOCAL FILE SYSTEM (tolerated by default; --strict or
--tolerate '' turns them into divergences). From docs/fuse.md:

  stale-reader  "a file this daemon itself writes a new version of (another descriptor
                writing it through the mount, a truncate) makes the descriptors still
                reading the old version fail with ESTALE"; on an object store "a deleted
                object is ESTALE" for a reader, and "once this mount uploads another file
                under the name it gets ESTALE"; through an owning worker a rename changes
                the version read (ESTALE for pages not cached); a reader "may read its old
                bytes". And "fstat(2) goes by the name (Linux asks FUSE for the inode, not
                the descriptor)": a reader's fstat gives the name's current size.
                Tolerated: on a descriptor opened O_RDONLY whose file, since that open, was
                written or truncated through another descriptor or by name (open O_TRUNC,
                truncate), or was renamed, unlinked or replaced (also as part of a renamed
                directory): read/pread answering ESTALE or other bytes than the local
                file system, and lseek(SEEK_END) answering another offset or ESTALE (the
                kernel keeps one size per name): the descriptor is then closed on both
                sides (its position is no longer comparable); fstat answering another
                size or ESTALE (descriptor kept).
                Pages such a reader reads (or the kernel reads ahead for it) stay in the
                kernel's one page cache of the file until its next open: "Descriptors of
                two versions open at once share the kernel's pages of the file; with
                --kernel-cache off every open drops them, but a descriptor of the old
                version reading after that can still leave pages of its version". So
                after a read by such a reader, read/pread by ANY descriptor of the file
                (writers too) may answer other bytes, until the file is opened again
                (the descriptor is closed on both sides only when the byte count differs).
                Everything else on descriptors open for writing is strict (they share one
                spool per file, as on a local file system), and so is a reader opened
                while a descriptor had the file open for writing, until the file's last
                writer closes: "a descriptor opened for reading through this daemon reads
                the bytes written so far (the spool)"; only "after the writer's close it
                reads the version the writer uploaded, ... like a reader opened then".
  hidden-dir-gone
                "a descriptor of a file unlinked while open fails with ENOENT once its
                directory is removed or replaced (rmdir, a rename onto it): libfuse names
                the hidden file by its directory's path ... and answers ENOENT to the
                descriptor's operations itself ... A rename over a file open for writing
                does the same to the replaced file's descriptors."
                Tolerated: ENOENT from any operation on a descriptor whose file was unlinked
                or replaced by a rename while open, after the directory that held it was
                removed or replaced; the descriptor is then closed on both sides.

Documented differences that this tester never exercises or never compares: hard links
(EPERM), symlinks/mknod (ENOSYS), xattrs (ENOTSUP), modes/owners/times (accepted, not
stored: modes, st_nlink, st_ino, times and directory sizes are NOT compared), visibility
to other clients before close, multi-client races (O_EXCL against other clients, the
attribute cache), read-only mounts, names with a newline.

Everything else is strict. Notably NOT tolerated (not documented as differences): a
listing that shows `.fuse_hidden*` names, errors from close/fsync, any difference in the
final tree, and any difference for descriptors open for writing beyond the pages above.

UNDOCUMENTED differences this tester found (2026-12-02, .local/probe8/r14-posix.md), off by
default; --tolerate can name them to let a sweep get past them to other divergences:
  removed-dir-fd  ENOENT from fstat/fsync of a DIRECTORY descriptor whose directory was
                  removed (rmdir) or replaced (a rename onto it); ext4 answers them.
  beside-reader   a reader opened beside a writer treated like a stale-reader (its
                  read-ahead windows keep spool bytes that later writes changed, and the
                  pages it reads then poison the writer's own reads).
"""
import argparse
import errno
import hashlib
import json
import os
import random
import shutil
import stat as statmod
import sys
import threading
import time

KIB = 1024
MIB = 1024 * 1024
NSLOTS = 12
PARENTS = ['', 'x', 'y', 'x/z']
LEAVES = ['a', 'b', 'c', 'x', 'y', 'z']
POOL = [(p + '/' + n) if p else n for p in PARENTS for n in LEAVES]
ACCMODES = {'r': os.O_RDONLY, 'w': os.O_WRONLY, 'rw': os.O_RDWR}
OFLAGS = {'creat': os.O_CREAT, 'trunc': os.O_TRUNC, 'append': os.O_APPEND, 'excl': os.O_EXCL}
WHENCE = {'set': os.SEEK_SET, 'cur': os.SEEK_CUR, 'end': os.SEEK_END}
TOLERANCES = ('stale-reader', 'hidden-dir-gone')
# Differences found by this tester that docs/fuse.md does NOT document: off by default, and
# only there so that a sweep can get past a known divergence to find others.
UNDOCUMENTED = ('removed-dir-fd', 'beside-reader')
FD_OPS = ('close', 'read', 'pread', 'write', 'pwrite', 'lseek', 'ftruncate', 'fstat', 'fsync')


class Hang(Exception):
    pass


# ---------------------------------------------------------------------------- generation

def gen_size(r):
    p = r.random()
    if p < 0.08:
        return 0
    if p < 0.50:
        return r.randint(1, 4 * KIB)
    if p < 0.75:
        return r.randint(4 * KIB, 70 * KIB)
    return r.randint(70 * KIB, 300 * KIB)


def gen_off(r, cur):
    p = r.random()
    if p < 0.20:
        return 0
    if p < 0.40:
        return max(0, cur + r.randint(-200, 200))
    if p < 0.55:
        return 64 * KIB + r.randint(-3000, 300)
    if p < 0.65:
        return MIB + r.randint(-300 * KIB, 300)
    if p < 0.72:
        return 128 * KIB * r.randint(1, 9) + r.randint(-50, 50)
    return r.randint(0, cur + 2000)


def gen_len(r, cur):
    p = r.random()
    if p < 0.25:
        return 0
    if p < 0.50:
        return r.randint(0, max(0, cur))
    if p < 0.65:
        return 64 * KIB + r.randint(-100, 100)
    if p < 0.75:
        return MIB + r.randint(-100, 100)
    return r.randint(0, cur + 200 * KIB)


class Generator:
    """Picks the next op from the seed and the reference side's state (slots, sizes, names)."""

    WEIGHTS = [('open', 14), ('close', 7), ('read', 8), ('pread', 6), ('write', 12), ('pwrite', 8),
               ('lseek', 5), ('ftruncate', 4), ('truncate', 3), ('fstat', 4), ('stat', 4),
               ('fsync', 3), ('rename', 7), ('unlink', 5), ('mkdir', 5), ('rmdir', 3), ('listdir', 4)]

    def __init__(self, seed, without=()):
        self.r = random.Random(seed)
        self.kinds = [k for k, _ in self.WEIGHTS if k not in without]
        self.weights = [w for k, w in self.WEIGHTS if k not in without]

    def entries(self, ref_root):
        files, dirs = [], ['']
        for dp, dns, fns in os.walk(ref_root):
            rel = os.path.relpath(dp, ref_root)
            dirs += [n if rel == '.' else rel + '/' + n for n in dns]
            files += [n if rel == '.' else rel + '/' + n for n in fns]
        return sorted(files), sorted(dirs)

    def path(self, ref_root, pf=0.45, pd=0.2, pn=0.2):
        """An existing file (pf), an existing directory (pd), a new name in an existing
        directory (pn), else any name of the pool."""
        r = self.r
        files, dirs = self.entries(ref_root)
        p = r.random()
        if p < pf and files:
            return r.choice(files)
        if p < pf + pd and len(dirs) > 1:
            return r.choice(dirs[1:])
        if p < pf + pd + pn:
            d = r.choice([x for x in dirs if x.count('/') < 2])
            return (d + '/' if d else '') + r.choice(LEAVES)
        return r.choice(POOL)

    def next(self, runner):
        r = self.r
        ref = runner.ref
        open_slots = sorted(ref.slots)
        kind = r.choices(self.kinds, self.weights)[0]
        if kind in FD_OPS and not open_slots:
            kind = 'open'
        if kind == 'open' and len(open_slots) >= NSLOTS:
            kind = 'close'
        if kind == 'open':
            free = [s for s in range(NSLOTS) if s not in ref.slots]
            acc = r.choice(['r', 'w', 'rw', 'rw'])
            flags = [f for f, pr in (('creat', 0.6), ('trunc', 0.2), ('append', 0.25), ('excl', 0.12)) if r.random() < pr]
            return {'op': 'open', 'slot': r.choice(free), 'path': self.path(ref.root, 0.5, 0.1, 0.3), 'acc': acc, 'flags': flags}
        if kind in FD_OPS:
            slot = r.choice(open_slots)
            cur = ref.size_of(slot)
            if kind == 'close' or kind == 'fstat' or kind == 'fsync':
                return {'op': kind, 'slot': slot}
            if kind == 'read':
                n = gen_size(r) if r.random() < 0.9 else r.randint(300 * KIB, 2 * MIB)
                return {'op': 'read', 'slot': slot, 'n': n}
            if kind == 'pread':
                return {'op': 'pread', 'slot': slot, 'n': gen_size(r), 'off': gen_off(r, cur)}
            if kind == 'write':
                return {'op': 'write', 'slot': slot, 'len': gen_size(r), 'ds': r.getrandbits(32)}
            if kind == 'pwrite':
                return {'op': 'pwrite', 'slot': slot, 'len': gen_size(r), 'ds': r.getrandbits(32), 'off': gen_off(r, cur)}
            if kind == 'lseek':
                wh = r.choice(['set', 'set', 'cur', 'end'])
                off = gen_off(r, cur) if wh == 'set' else r.randint(-3000, 70 * KIB) if wh == 'cur' else r.randint(-3000, 200 * KIB)
                return {'op': 'lseek', 'slot': slot, 'off': off, 'whence': wh}
            if kind == 'ftruncate':
                return {'op': 'ftruncate', 'slot': slot, 'len': gen_len(r, cur)}
        if kind == 'truncate':
            p = self.path(ref.root, 0.8, 0.1, 0.05)
            try:
                cur = os.stat(ref.abs(p)).st_size
            except OSError:
                cur = 0
            return {'op': 'truncate', 'path': p, 'len': gen_len(r, cur)}
        if kind == 'rename':
            return {'op': 'rename', 'src': self.path(ref.root, 0.55, 0.35, 0.0), 'dst': self.path(ref.root, 0.35, 0.2, 0.35)}
        if kind in ('stat', 'unlink', 'mkdir', 'rmdir'):
            p = {'stat': (0.45, 0.3, 0.15), 'unlink': (0.7, 0.1, 0.1), 'mkdir': (0.1, 0.1, 0.7), 'rmdir': (0.1, 0.7, 0.1)}[kind]
            return {'op': kind, 'path': self.path(ref.root, *p)}
        if kind == 'listdir':
            return {'op': 'listdir', 'path': r.choice(['', self.path(ref.root, 0.1, 0.8, 0.0)])}
        raise AssertionError(kind)


# ---------------------------------------------------------------------------- execution

def data_of(op):
    return random.Random(op['ds']).randbytes(op['len']) if op['len'] else b''


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) and e.errno else type(e).__name__


class Side:
    """One tree (FUSE or reference) and its open descriptors by slot."""

    def __init__(self, name, root):
        self.name = name
        self.root = root
        self.slots = {}

    def abs(self, rel):
        return os.path.join(self.root, rel) if rel else self.root

    def size_of(self, slot):
        try:
            return os.fstat(self.slots[slot]).st_size
        except OSError:
            return 0

    def run(self, op, data):
        k = op['op']
        try:
            if k == 'open':
                flags = ACCMODES[op['acc']]
                for f in op['flags']:
                    flags |= OFLAGS[f]
                fd = os.open(self.abs(op['path']), flags, 0o644)
                self.slots[op['slot']] = fd
                return ('ok', None)
            if k in FD_OPS:
                fd = self.slots[op['slot']]
                if k == 'close':
                    del self.slots[op['slot']]
                    os.close(fd)
                    return ('ok', None)
                if k == 'read':
                    return ('ok', os.read(fd, op['n']))
                if k == 'pread':
                    return ('ok', os.pread(fd, op['n'], op['off']))
                if k == 'write':
                    return ('ok', os.write(fd, data))
                if k == 'pwrite':
                    return ('ok', os.pwrite(fd, data, op['off']))
                if k == 'lseek':
                    return ('ok', os.lseek(fd, op['off'], WHENCE[op['whence']]))
                if k == 'ftruncate':
                    os.ftruncate(fd, op['len'])
                    return ('ok', None)
                if k == 'fstat':
                    return ('ok', type_size(os.fstat(fd)))
                if k == 'fsync':
                    os.fsync(fd)
                    return ('ok', None)
            if k == 'truncate':
                os.truncate(self.abs(op['path']), op['len'])
                return ('ok', None)
            if k == 'stat':
                return ('ok', type_size(os.stat(self.abs(op['path']))))
            if k == 'rename':
                os.rename(self.abs(op['src']), self.abs(op['dst']))
                return ('ok', None)
            if k == 'unlink':
                os.unlink(self.abs(op['path']))
                return ('ok', None)
            if k == 'mkdir':
                os.mkdir(self.abs(op['path']), 0o755)
                return ('ok', None)
            if k == 'rmdir':
                os.rmdir(self.abs(op['path']))
                return ('ok', None)
            if k == 'listdir':
                return ('ok', sorted(os.listdir(self.abs(op['path']))))
            raise AssertionError(k)
        except OSError as e:
            return ('err', ename(e))

    def drop(self, slot):
        fd = self.slots.pop(slot, None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def close_all(self):
        for s in sorted(self.slots):
            self.drop(s)


def type_size(st):
    if statmod.S_ISDIR(st.st_mode):
        return ('dir',)
    if statmod.S_ISREG(st.st_mode):
        return ('file', st.st_size)
    return ('other', statmod.S_IFMT(st.st_mode))


def show(out):
    if out[0] == 'err':
        return out[1]
    v = out[1]
    if isinstance(v, bytes):
        return 'ok %d bytes sha1=%s' % (len(v), hashlib.sha1(v).hexdigest()[:12])
    return 'ok' if v is None else 'ok %r' % (v,)


def kind_of(out):
    return 'ok' if out[0] == 'ok' else out[1]


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


class FdMeta:
    def __init__(self, acc, ino, isdir):
        self.readonly = acc == 'r'
        self.ino = ino
        self.isdir = isdir
        self.stale = False          # its file changed by another descriptor/name since its open
        self.hidden_dir = None      # ino of the directory it was unlinked from (while open)
        self.dir_gone = False       # that directory was removed or replaced since
        self.removed = False        # (a directory descriptor) its directory was removed or replaced
        self.beside = None          # (a reader) the writers' generation of its file when it was opened beside a writer


class Divergence(Exception):
    def __init__(self, step, op, ref, fuse, sig, detail=''):
        super().__init__(step)
        self.step, self.op, self.ref, self.fuse, self.sig, self.detail = step, op, ref, fuse, sig, detail

    def text(self):
        lines = ['DIVERGENCE at step %s: %s' % (self.step, json.dumps(self.op, sort_keys=True)),
                 '  ref (local fs): %s' % self.ref, '  fuse          : %s' % self.fuse]
        if self.detail:
            lines.append('  ' + self.detail)
        return '\n'.join(lines)


class Watchdog:
    def __init__(self, timeout):
        self.timeout = timeout
        self.current = None
        t = threading.Thread(target=self.loop, daemon=True)
        t.start()

    def loop(self):
        while True:
            time.sleep(1)
            cur = self.current
            if cur and time.monotonic() - cur[0] > self.timeout:
                sys.stdout.write('HANG: step %s did not return within %ss on the %s side: %s\n'
                                 % (cur[1], self.timeout, cur[3], json.dumps(cur[2], sort_keys=True)))
                sys.stdout.flush()
                os._exit(3)


class Runner:
    counter = 0

    def __init__(self, args, tag, tolerate, watchdog):
        Runner.counter += 1
        name = 'dt-%s-%d-%d' % (tag, os.getpid(), Runner.counter)
        self.fuse = Side('fuse', os.path.join(args.fuse, name))
        self.ref = Side('ref', os.path.join(args.ref, name))
        os.makedirs(self.fuse.root)
        os.makedirs(self.ref.root)
        self.tolerate = tolerate
        self.meta = {}
        self.gen = {}               # per file (ino): +1 each time its last descriptor open for writing closes
        self.poison = {}            # per file (ino): the tolerance under which a reader may have left pages of another version
        self.stats = {}
        self.tolerated = {}
        self.wd = watchdog
        self.verbose = args.verbose

    # -- bookkeeping for the documented differences (from the reference side)

    def ino_of(self, rel):
        try:
            return os.stat(self.ref.abs(rel)).st_ino
        except OSError:
            return None

    def fds_of(self, ino):
        return [m for m in self.meta.values() if ino is not None and m.ino == ino]

    def before(self, op):
        """What the op may touch, looked up on the reference side before it runs."""
        k = op['op']
        info = {}
        if k in ('open', 'truncate', 'unlink', 'rmdir'):
            info['ino'] = self.ino_of(op['path'])
            info['parent'] = self.ino_of(os.path.dirname(op['path']))
        if k == 'rename':
            info['src'] = self.ino_of(op['src'])
            info['dst'] = self.ino_of(op['dst'])
            info['dstparent'] = self.ino_of(os.path.dirname(op['dst']))
            try:
                info['dstdir'] = statmod.S_ISDIR(os.stat(self.ref.abs(op['dst'])).st_mode)
            except OSError:
                info['dstdir'] = False
        return info

    def after(self, op, info, out):
        """Marks descriptors whose files changed (both sides succeeded)."""
        k = op['op']
        if out[0] != 'ok':
            return
        if k == 'open':
            fd = self.ref.slots[op['slot']]
            st = os.fstat(fd)
            m = FdMeta(op['acc'], st.st_ino, statmod.S_ISDIR(st.st_mode))
            if 'trunc' in op['flags'] and info['ino'] is not None:
                for o in self.fds_of(info['ino']):
                    o.stale = True
            if m.readonly and any(not o.readonly for o in self.fds_of(m.ino)):
                m.beside = self.gen.get(m.ino, 0)
            self.meta[op['slot']] = m
            self.poison.pop(m.ino, None)  # (an open drops the kernel's pages of the file)
        elif k in ('close',):
            self.forget(op['slot'])
        elif k in ('write', 'pwrite', 'ftruncate'):
            me = self.meta.get(op['slot'])
            if me:
                for o in self.fds_of(me.ino):
                    if o is not me:
                        o.stale = True
        elif k == 'truncate':
            for o in self.fds_of(info['ino']):
                o.stale = True
        elif k == 'unlink':
            for o in self.fds_of(info['ino']):
                o.stale = True
                o.hidden_dir = info['parent']
        elif k == 'rmdir':
            for o in self.meta.values():
                if o.hidden_dir is not None and o.hidden_dir == info['ino']:
                    o.dir_gone = True
                if o.isdir and o.ino == info['ino']:
                    o.removed = True
        elif k == 'rename':
            if info['src'] == info['dst']:
                return
            # the moved file, or every file below a moved directory
            moved = {info['src']}
            dst = self.ref.abs(op['dst'])
            if os.path.isdir(dst):
                for dp, dns, fns in os.walk(dst):
                    for n in dns + fns:
                        moved.add(os.lstat(os.path.join(dp, n)).st_ino)
            for o in self.meta.values():
                if o.ino in moved:
                    o.stale = True
            if info['dst'] is not None:
                if info['dstdir']:
                    for o in self.meta.values():
                        if o.hidden_dir is not None and o.hidden_dir == info['dst']:
                            o.dir_gone = True
                        if o.isdir and o.ino == info['dst']:
                            o.removed = True
                else:
                    for o in self.fds_of(info['dst']):
                        o.stale = True
                        o.hidden_dir = info['dstparent']

    def forget(self, slot):
        m = self.meta.pop(slot, None)
        if m and not m.readonly and not any(not o.readonly for o in self.fds_of(m.ino)):
            self.gen[m.ino] = self.gen.get(m.ino, 0) + 1

    def loose_reader(self, m):
        """The tolerance under which this descriptor may read other bytes than ext4, or None."""
        if not m.stale or not m.readonly or m.isdir:
            return None
        if m.beside is not None and self.gen.get(m.ino, 0) == m.beside:
            return 'beside-reader' if 'beside-reader' in self.tolerate else None
        return 'stale-reader' if 'stale-reader' in self.tolerate else None

    def tolerated_as(self, op, r, f):
        """The documented difference this divergence is, or None."""
        m = self.meta.get(op.get('slot')) if op['op'] in FD_OPS else None
        if m is None:
            return None
        k = op['op']
        # (a reader opened beside a writer reads that writer's spool, docs/fuse.md "Writes":
        # strict until the file's last writer closes)
        loose = self.loose_reader(m)
        if loose:
            if k in ('read', 'pread') and (f == ('err', 'ESTALE') or (r[0] == 'ok' and f[0] == 'ok')):
                return (loose, True)
            if k == 'lseek' and op['whence'] == 'end' and r[0] == 'ok' and (f[0] == 'ok' or f == ('err', 'ESTALE')):
                return (loose, True)
            if k == 'fstat' and r[0] == 'ok' and (f[0] == 'ok' or f == ('err', 'ESTALE')):
                return (loose, False)
        # Pages a loose reader read (or read ahead) stay in the kernel's cache of the file
        # until its next open, and every descriptor of the file reads them: "a descriptor of
        # the old version reading after that can still leave pages of its version".
        if k in ('read', 'pread') and r[0] == 'ok' and f[0] == 'ok' and m.ino in self.poison:
            return (self.poison[m.ino] + ' (pages left by a reader)', len(r[1]) != len(f[1]))
        if 'hidden-dir-gone' in self.tolerate and m.dir_gone and f == ('err', 'ENOENT'):
            return ('hidden-dir-gone', True)
        if 'removed-dir-fd' in self.tolerate and m.removed and f == ('err', 'ENOENT'):
            return ('removed-dir-fd', True)
        return None

    # -- one step

    def step(self, i, op):
        k = op['op']
        if k in FD_OPS and op['slot'] not in self.ref.slots:
            return  # (a replay without the op that opened it)
        if k == 'open' and op['slot'] in self.ref.slots:
            return
        if k == 'lseek' and self.meta[op['slot']].isdir:
            return
        data = data_of(op) if k in ('write', 'pwrite') else None
        info = self.before(op)
        if k in ('read', 'pread'):
            loose = self.loose_reader(self.meta[op['slot']])
            if loose:
                self.poison[self.meta[op['slot']].ino] = loose
        self.wd.current = (time.monotonic(), i, op, 'ref')
        r = self.ref.run(op, data)
        self.wd.current = (time.monotonic(), i, op, 'fuse')
        f = self.fuse.run(op, data)
        self.wd.current = None
        st = self.stats.setdefault(k, {})
        st[kind_of(r)] = st.get(kind_of(r), 0) + 1
        if self.verbose:
            print('%5s %-60s ref=%s fuse=%s' % (i, json.dumps(op, sort_keys=True)[:60], show(r), show(f)))
        if r != f:
            tol = self.tolerated_as(op, r, f)
            if tol:
                self.tolerated[tol[0]] = self.tolerated.get(tol[0], 0) + 1
                if tol[1]:
                    self.ref.drop(op['slot'])
                    self.fuse.drop(op['slot'])
                    self.forget(op['slot'])
                if k == 'close':
                    self.forget(op['slot'])
                return
            detail = ''
            if r[0] == 'ok' and f[0] == 'ok' and isinstance(r[1], bytes):
                detail = 'first differing byte at %d (read started at %s)' % (first_diff(r[1], f[1]), op.get('off', 'the position'))
            if kind_of(r) != kind_of(f):
                sig = (k, kind_of(r), kind_of(f))
            else:
                sig = (k, kind_of(r), 'value')
            # keep both sides' slot tables equal (one open failed): close the odd one
            for s in set(self.ref.slots) ^ set(self.fuse.slots):
                self.ref.drop(s)
                self.fuse.drop(s)
            raise Divergence(i, op, show(r), show(f), sig, detail)
        self.after(op, info, r)

    def final(self, nops):
        for s in sorted(set(self.ref.slots) | set(self.fuse.slots)):
            self.step('close-%d' % s, {'op': 'close', 'slot': s})
        a = tree(self.ref.root)
        b = tree(self.fuse.root)
        diffs = []
        for p in sorted(set(a) | set(b)):
            if a.get(p) != b.get(p):
                kind = 'missing' if p not in b else 'extra' if p not in a else 'type' if a[p][0] != b[p][0] else 'content'
                diffs.append((kind, p, a.get(p), b.get(p)))
        if diffs:
            k0 = diffs[0][0]
            lines = []
            for kind, p, x, y in diffs[:10]:
                lines.append('%s %s: ref=%s fuse=%s' % (kind, p, x, y))
            raise Divergence('final', {'op': 'final-tree', 'after': nops}, '%d paths' % len(a), '%d paths' % len(b),
                             ('final', k0), 'tree differences:\n    ' + '\n    '.join(lines))

    def cleanup(self, keep=False):
        self.ref.close_all()
        self.fuse.close_all()
        if not keep:
            shutil.rmtree(self.ref.root, ignore_errors=True)
            shutil.rmtree(self.fuse.root, ignore_errors=True)


def tree(root):
    out = {}
    for dp, dns, fns in os.walk(root):
        rel = os.path.relpath(dp, root)
        for n in dns + fns:
            p = n if rel == '.' else rel + '/' + n
            full = os.path.join(dp, n)
            try:
                st = os.lstat(full)
                if statmod.S_ISDIR(st.st_mode):
                    out[p] = ('dir',)
                elif statmod.S_ISREG(st.st_mode):
                    with open(full, 'rb') as fh:
                        b = fh.read()
                    out[p] = ('file', len(b), hashlib.sha1(b).hexdigest()[:12])
                else:
                    out[p] = ('other',)
            except OSError as e:
                out[p] = ('error', ename(e))
    return out


def execute(args, tag, ops, tolerate, wd, logf=None, gen=None, nops=0, keep=False):
    """Runs `ops` (or generates `nops` with `gen`); returns (runner, Divergence or None)."""
    rn = Runner(args, tag, tolerate, wd)
    div = None
    try:
        i = 0
        while True:
            if gen is not None:
                if i >= nops:
                    break
                op = gen.next(rn)
                if logf:
                    logf.write(json.dumps(op, sort_keys=True) + '\n')
                    logf.flush()
            else:
                if i >= len(ops):
                    break
                op = ops[i]
            rn.step(i, op)
            i += 1
        rn.final(i)
    except Divergence as d:
        div = d
    rn.cleanup(keep=keep or (div is not None and args.keep))
    return rn, div


# ---------------------------------------------------------------------------- minimisation

def ddmin(items, fails, log=None):
    """Delta debugging, in the variant that keeps going after a removal: chunks of len/2,
    then len/4, ... down to single ops, each pass trying to drop every chunk (last first,
    since later ops depend on earlier ones less often) and keeping each drop that still
    fails; ends 1-minimal (no single op can be dropped)."""
    size = max(1, len(items) // 2)
    while True:
        removed = False
        i = len(items) - 1  # (the diverging op itself is last: keep it)
        while i > 0:
            lo = max(0, i - size)
            cand = items[:lo] + items[i:]
            if fails(cand):
                items, removed = cand, True
            i = lo
        if log:
            log('  ddmin: %d ops (chunks of %d)' % (len(items), size))
        if size == 1 and not removed:
            return items
        if not removed or size > 1:
            size = max(1, size // 2)


def load_log(path):
    ops, header = [], {}
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            if 'header' in o:
                header = o['header']
            elif 'op' in o:
                ops.append(o)
    return header, ops


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fuse', required=True, help='parent dir below the FUSE mount')
    ap.add_argument('--ref', required=True, help='parent dir on a local file system')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--ops', type=int, default=1500)
    ap.add_argument('--log', help='write the op sequence as JSON lines')
    ap.add_argument('--replay', help='re-run a log')
    ap.add_argument('--min', action='store_true', help='with --replay: delta-minimise it')
    ap.add_argument('--any', action='store_true', help='with --min: accept any divergence, not only the same kind')
    ap.add_argument('--max-trials', type=int, default=1500)
    ap.add_argument('--strict', action='store_true', help='tolerate nothing')
    ap.add_argument('--tolerate', default=','.join(TOLERANCES), help='differences tolerated, a comma list of: documented ones (the default) %s; undocumented ones this tester found, for sweeps past them: %s' % (', '.join(TOLERANCES), ', '.join(UNDOCUMENTED)))
    ap.add_argument('--op-timeout', type=float, default=60)
    ap.add_argument('--without', default='', help='op kinds never to generate (comma list; open and close are always made when needed)')
    ap.add_argument('--keep', action='store_true', help='keep the subdirectories of a diverging run')
    ap.add_argument('--verbose', '-v', action='store_true')
    args = ap.parse_args()
    tolerate = set() if args.strict else {t for t in args.tolerate.split(',') if t}
    bad = tolerate - set(TOLERANCES) - set(UNDOCUMENTED)
    if bad:
        ap.error('unknown tolerance(s): %s' % ', '.join(sorted(bad)))
    if args.min and not args.replay:
        ap.error('--min needs --replay')
    os.makedirs(args.fuse, exist_ok=True)
    os.makedirs(args.ref, exist_ok=True)
    wd = Watchdog(args.op_timeout)
    t0 = time.monotonic()

    if not args.replay:
        logf = open(args.log, 'w') if args.log else None
        if logf:
            logf.write(json.dumps({'header': {'seed': args.seed, 'ops': args.ops, 'tolerate': sorted(tolerate), 'fuse': args.fuse}}) + '\n')
            logf.flush()
        without = {k for k in args.without.split(',') if k}
        rn, div = execute(args, 's%d' % args.seed, None, tolerate, wd, logf, Generator(args.seed, without), args.ops)
        if logf:
            logf.close()
        summary(rn, args.seed, time.monotonic() - t0)
        if div:
            print(div.text())
            return 1
        print('seed %d: no divergence in %d ops' % (args.seed, args.ops))
        return 0

    header, ops = load_log(args.replay)
    rn, div = execute(args, 'replay', ops, tolerate, wd)
    if not div:
        print('replay of %s (%d ops): no divergence' % (args.replay, len(ops)))
        return 0
    print(div.text())
    if not args.min:
        return 1
    want = div.sig
    if isinstance(div.step, int):
        ops = ops[:div.step + 1]
    trials = [0]

    def fails(cand):
        if trials[0] >= args.max_trials:
            return False
        trials[0] += 1
        _, d = execute(args, 'min', cand, tolerate, wd)
        return d is not None and (args.any or d.sig == want)

    print('minimising %d ops (signature %s)...' % (len(ops), want))
    small = list(ops)
    # first without the ops that only look (one trial each), then ddmin
    for kinds in (('stat', 'listdir', 'fstat', 'fsync', 'pread'), ('read', 'lseek'), ('close',)):
        cand = [o for o in small[:-1] if o['op'] not in kinds] + small[-1:]
        if len(cand) < len(small) and fails(cand):
            small = cand
            print('  without %s: %d ops' % ('/'.join(kinds), len(small)), flush=True)
    small = ddmin(small, fails, log=lambda s: print(s, flush=True))
    out = args.replay + '.min.jsonl'
    with open(out, 'w') as fh:
        fh.write(json.dumps({'header': dict(header, minimised_from=args.replay, signature=list(want))}) + '\n')
        for o in small:
            fh.write(json.dumps(o, sort_keys=True) + '\n')
    _, d = execute(args, 'min', small, tolerate, wd)
    print('minimal sequence (%d ops, %d trials, %.0fs), written to %s:' % (len(small), trials[0], time.monotonic() - t0, out))
    for o in small:
        print('  ' + json.dumps(o, sort_keys=True))
    print(d.text() if d else 'NOTE: the minimal sequence did not diverge again on a last run (flaky)')
    return 1


def summary(rn, seed, secs):
    parts = []
    for k in sorted(rn.stats):
        parts.append('%s=%s' % (k, '/'.join('%s:%d' % (o, c) for o, c in sorted(rn.stats[k].items()))))
    print('seed %d stats (%.0fs): %s' % (seed, secs, ' '.join(parts)))
    if rn.tolerated:
        print('seed %d tolerated: %s' % (seed, ' '.join('%s=%d' % kv for kv in sorted(rn.tolerated.items()))))


if __name__ == '__main__':
    sys.exit(main())
