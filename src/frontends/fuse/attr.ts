/**
 * stat(2) attributes the FUSE daemon reports: the root and virtual directories (read-only,
 * the daemon's start time), and UFS entries (mode from the mount's read-only flag; the UFS
 * keeps no owners or modes, so files belong to the daemon's user).
 */
import type { UfsEntry } from '../../ufs/types.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
/** st_blksize: the I/O size tools such as cp and Python's buffered files use. */
const BLKSIZE = 128 * 1024;

export interface Attr {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
  blocks: number;
  blksize: number;
}

/** What a path is, for its attributes. */
export type Node = { kind: 'root' } | { kind: 'virtual' } | { kind: 'ufs'; entry: UfsEntry; readOnly: boolean };

/** Who owns everything the daemon shows, and when it started (times of virtual entries). */
export interface Owner {
  uid: number;
  gid: number;
  started: Date;
  /** Bits taken away from every mode shown (`--umask`; default 022: 0644 files, 0755 directories). */
  umask?: number;
}

export function attrOf(node: Node, owner: Owner): Attr {
  const base = { uid: owner.uid, gid: owner.gid, blksize: BLKSIZE, atime: owner.started, ctime: owner.started };
  const keep = ~(owner.umask ?? 0o022) & 0o777;
  if (node.kind !== 'ufs') {
    return { ...base, mode: S_IFDIR | ((node.kind === 'root' ? 0o777 : 0o555) & keep), size: 4096, nlink: 2, mtime: owner.started, blocks: 8 };
  }
  const { entry, readOnly } = node;
  const mtime = new Date(entry.mtimeMs);
  if (entry.type === 'directory') {
    return { ...base, mode: S_IFDIR | ((readOnly ? 0o555 : 0o777) & keep), size: 4096, nlink: 2, mtime, ctime: mtime, atime: mtime, blocks: 8 };
  }
  return { ...base, mode: S_IFREG | ((readOnly ? 0o444 : 0o666) & keep), size: entry.size, nlink: 1, mtime, ctime: mtime, atime: mtime, blocks: Math.ceil(entry.size / 512) };
}
