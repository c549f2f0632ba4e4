/**
 * The mount point as the kernel sees it: is DIR a FUSE mount (from /proc/self/mountinfo,
 * which never touches the mount), is it stale (a crashed daemon leaves "Transport endpoint
 * is not connected", ENOTCONN), and unmounting with fusermount.
 *
 * Only the CLI process that is NOT serving DIR may stat it: the daemon itself never calls
 * the file system on its own mount point (a synchronous call would deadlock, since the
 * answer has to come from the very thread that waits).
 */
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { AlluxioError } from '../../domain/errors.js';

export interface MountInfo {
  mountpoint: string;
  fstype: string;
  source: string;
}

/** Decode the octal escapes of /proc mount tables (\040 for a space...). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readMountTable(): MountInfo[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // id parent major:minor root mountpoint options [optional...] - fstype source superopts
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    out.push({ mountpoint: unescapeMount(left[4] ?? ''), fstype: right[0] ?? '', source: unescapeMount(right[1] ?? '') });
  }
  return out;
}

/**
 * The absolute form of DIR as /proc lists it, without touching DIR itself (it may be a
 * stale mount): the parent's real path plus the last name.
 */
export function canonicalMountpoint(dir: string): string {
  const abs = resolve(dir);
  if (abs === '/') return abs;
  try {
    return resolve(realpathSync(dirname(abs)), basename(abs));
  } catch {
    return abs;
  }
}

export function fuseMountAt(dir: string): MountInfo | undefined {
  const mp = canonicalMountpoint(dir);
  const hits = readMountTable().filter((m) => m.mountpoint === mp && (m.fstype === 'fuse' || m.fstype.startsWith('fuse.')));
  return hits[hits.length - 1];
}

export type MountpointState = 'missing' | 'free' | 'mounted' | 'stale' | 'not-a-directory';

/** Probe DIR (from a process that does not serve it). */
export async function probeMountpoint(dir: string): Promise<MountpointState> {
  const mounted = fuseMountAt(dir) !== undefined;
  try {
    const st = await stat(dir);
    if (mounted) return 'mounted';
    return st.isDirectory() ? 'free' : 'not-a-directory';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'ECONNABORTED') return 'stale';
    if (code === 'ENOENT' && !mounted) return 'missing';
    if (mounted) return 'stale';
    throw new AlluxioError('InvalidArgument', `cannot use ${dir} as a mount point: ${(e as Error).message}`);
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => res({ code: 127, stderr: e.message }));
    child.on('close', (code) => res({ code, stderr: stderr.trim() }));
  });
}

/**
 * `fusermount -u DIR` (lazy: `-uz`, detaches even while files are open). A busy mount
 * without lazy is InvalidState (exit 3) naming the way out.
 */
export async function fusermountUnmount(dir: string, opts: { lazy?: boolean } = {}): Promise<void> {
  const mp = canonicalMountpoint(dir);
  const r = await run('fusermount', [opts.lazy ? '-uz' : '-u', mp]);
  if (r.code === 0) return;
  if (r.code === 127) throw new AlluxioError('NotFound', `fusermount is not installed (apt-get install fuse): ${r.stderr}`);
  if (/busy/i.test(r.stderr)) {
    throw new AlluxioError('InvalidState', `${mp} is busy (files are open or a process has its working directory there); close them, or pass --lazy to detach it now and let it go when the last file closes`);
  }
  if (/not found in|not mounted|entry for .* not found/i.test(r.stderr)) {
    throw new AlluxioError('NotFound', `${mp} is not a FUSE mount`);
  }
  throw new AlluxioError('Internal', `fusermount ${opts.lazy ? '-uz' : '-u'} ${mp} failed: ${r.stderr || `exit ${String(r.code)}`}`);
}

/** Wait until DIR is no longer in the mount table (or the deadline passes). */
export async function waitUnmounted(dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!fuseMountAt(dir)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !fuseMountAt(dir);
}
