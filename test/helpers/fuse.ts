/**
 * Real FUSE mounts for tests: the daemon runs as its own process (`alluxio fuse mount DIR`
 * via bin/run.js), and tests use the mount from the test process (async fs only) or from
 * spawned tools (ls, cat, dd, cp, find, stat, python3), always with a timeout so a hung
 * daemon fails a test instead of hanging it. `stop()`/`cleanup()` always unmount, with
 * `fusermount -uz` as the last resort.
 *
 *   const reason = fuseSkipReason();            // describe(..., { skip: reason })
 *   const fuse = await startFuse(etcd.endpoint, { cluster });
 *   await run('cat', [join(fuse.mountpoint, 'data', 'a.txt')]);
 *   await fuse.waitForRevision(rev);            // the daemon applied a config change
 *   await fuse.cleanup();                        // in after()/finally
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuseMountAt } from '../../src/frontends/fuse/mountpoint.js';
import { RUN } from './cli.js';
import { hostCommand } from '../../src/host/cli-entry.js';
import { until } from './poll.js';

/** Why FUSE tests cannot run here (undefined when they can). */
export function fuseSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'FUSE tests need Linux';
  if (!existsSync('/dev/fuse')) return 'FUSE tests need /dev/fuse (not present: run with --device /dev/fuse or on a host with the fuse module)';
  if (process.getuid?.() !== 0) return 'FUSE tests need root (mounting FUSE file systems)';
  if (spawnSync('sh', ['-c', 'command -v fusermount']).status !== 0) return 'FUSE tests need fusermount (apt-get install fuse)';
  return undefined;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  raw: Buffer;
}

/** Spawn a tool; never hangs past timeoutMs (SIGKILL). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string | Buffer; cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd, env: { ...process.env, ...(opts.env ?? {}) } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, note = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      const raw = Buffer.concat(out);
      resolve({ code, signal, stdout: raw.toString('utf8'), stderr: stderr + note, raw });
    };
    let giveUp: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      // A tool stuck in an uninterruptible wait on a dead mount never exits: stop waiting.
      giveUp = setTimeout(() => finish(null, 'SIGKILL', `\n[${cmd} did not exit after SIGKILL: stuck on the mount]`), 3000);
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => finish(code, signal));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Python snippet runner (argv passed as sys.argv[1:]). */
export function py(code: string, args: string[] = [], timeoutMs = 30_000): Promise<RunResult> {
  return run('/usr/bin/python3', ['-c', code, ...args], { timeoutMs });
}

/**
 * `tail -f` against an appender, on the mount directory `dir`: for a log that starts empty
 * and one that starts with 5001 bytes (both written through the mount), a reader opened
 * before the appender, and one opened beside it (after), read to their end of file after
 * each of six O_APPEND writes of the appender (an fstat, then reads to the end: as `tail -f`
 * does).
 * Prints, per log: whether the file read back after both closed holds every append, whether
 * the reader read it all, and the sizes fstat gave the reader (less the start).
 */
export function appendWhileReading(dir: string): Promise<RunResult> {
  return py(
    `
import os, sys
D = sys.argv[1]
for name, start, beside in (('empty.log', b'', False), ('grown.log', b'x' * 5000 + b'\\n', False), ('beside.log', b'', True)):
    with open(D + '/' + name, 'wb') as f: f.write(start)
    if beside: w = os.open(D + '/' + name, os.O_WRONLY | os.O_APPEND)
    r = os.open(D + '/' + name, os.O_RDONLY)
    got = b''
    def drain():
        global got
        while True:
            b = os.read(r, 8192)
            if not b: return
            got += b
    drain()
    if not beside: w = os.open(D + '/' + name, os.O_WRONLY | os.O_APPEND)
    sizes = []
    for i in range(6):
        os.write(w, b'line %d\\n' % i)
        if beside: drain()  # (a read straight after the write: no fstat first)
        sizes.append(os.fstat(r).st_size - len(start))  # as tail -f: the size, then the read
        drain()
    os.close(w)
    os.close(r)
    want = start + b''.join(b'line %d\\n' % i for i in range(6))
    print(name, open(D + '/' + name, 'rb').read() == want, got == want, sizes)
`,
    [dir],
    120_000,
  );
}

/** What appendWhileReading prints when every append was kept and read. */
export const APPENDED_AND_READ = ['empty.log', 'grown.log', 'beside.log'].map((log) => `${log} True True [7, 14, 21, 28, 35, 42]`).join('\n');

export interface FuseProcess {
  mountpoint: string;
  pid: number;
  process: ChildProcess;
  logFile: string;
  exited: Promise<number | string>;
  log(): string;
  /** Highest revision the daemon logged as applied. */
  appliedRevision(): number;
  waitForRevision(rev: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM; resolves with the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | string>;
  kill9(): Promise<number | string>;
  /** Stop, make sure nothing is mounted (fusermount -uz as a last resort), remove the dir. */
  cleanup(): Promise<void>;
}

export interface StartFuseOptions {
  cluster?: string;
  /** Mount point (default: a fresh temp dir). */
  mountpoint?: string;
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

export function isMounted(dir: string): boolean {
  return fuseMountAt(dir) !== undefined;
}

/** Poll until `ok` holds (the suite's one poller, test/helpers/poll.ts; this name stays for the FUSE tests). */
export async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  await until(what, async () => (await ok()) || undefined, timeoutMs, 25);
}

/**
 * Abort the kernel side of a FUSE mount (/sys/fs/fuse/connections/<dev>/abort): the only
 * way to free a daemon stuck in an uninterruptible wait on its own mount (a deadlock
 * regression), which SIGKILL cannot end. Mounts fusectl if needed (and unmounts it again).
 */
export function abortFuseConnection(dir: string): void {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir && / - fuse/.test(l));
  const minor = line?.split(' ')[2]?.split(':')[1];
  if (!minor) return;
  const ctl = '/sys/fs/fuse/connections';
  let mounted = false;
  if (!existsSync(join(ctl, minor))) mounted = spawnSync('mount', ['-t', 'fusectl', 'none', ctl]).status === 0;
  try {
    if (existsSync(join(ctl, minor, 'abort'))) writeFileSync(join(ctl, minor, 'abort'), '1');
  } finally {
    if (mounted) spawnSync('umount', [ctl]);
  }
}

/** Force a mount point free (last resort of every FUSE test). */
export function forceUnmount(dir: string): void {
  if (isMounted(dir)) spawnSync('fusermount', ['-uz', dir]);
}

/** A FUSE test's teardown: stop the daemon (unmounting it even when that fails), then what else it started, in order. */
export async function stopFuseThen(fuse: FuseProcess | undefined, ...then: (() => unknown)[]): Promise<void> {
  try {
    await fuse?.cleanup();
  } finally {
    if (fuse) forceUnmount(fuse.mountpoint);
    for (const f of then) await f();
  }
}

export async function startFuse(etcdEndpoint: string, opts: StartFuseOptions = {}): Promise<FuseProcess> {
  const base = mkdtempSync(join(tmpdir(), 'alluxio-test-fuse-'));
  // A given mount point may be a stale mount (stat would fail with ENOTCONN): leave it to the daemon.
  const mountpoint = opts.mountpoint ?? join(base, 'mnt');
  if (opts.mountpoint === undefined) mkdirSync(mountpoint, { recursive: true });
  const logFile = join(base, 'fuse.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(...hostCommand(['fuse', 'mount', mountpoint, '--log-level', 'debug', ...(opts.extraArgs ?? [])], RUN), {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, NO_COLOR: '1', ALLUXIO_ETCD_ENDPOINTS: etcdEndpoint, ALLUXIO_CLUSTER: opts.cluster ?? 'default' },
  });
  closeSync(fd);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const isDone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const appliedRevision = (): number => {
    let max = 0;
    for (const line of log().split('\n')) {
      if (!line.includes('fuse: configuration applied')) continue;
      try {
        const rev = Number((JSON.parse(line) as { revision?: number }).revision);
        if (rev > max) max = rev;
      } catch {
        /* not JSON */
      }
    }
    return max;
  };
  const stopWith = async (sig: NodeJS.Signals): Promise<number | string> => {
    if (isDone()) return exited;
    child.kill(sig);
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    // A daemon deadlocked on its own mount ignores even SIGKILL: abort the connection.
    const t2 = setTimeout(() => abortFuseConnection(mountpoint), 20_000);
    const r = await exited;
    clearTimeout(t);
    clearTimeout(t2);
    return r;
  };
  const f: FuseProcess = {
    mountpoint,
    pid: child.pid!,
    process: child,
    logFile,
    exited,
    log,
    appliedRevision,
    async waitForRevision(rev, timeoutMs = 20_000) {
      await waitUntil(`the FUSE daemon to apply revision ${rev}`, () => {
        if (isDone()) throw new Error(`the FUSE daemon exited while waiting for revision ${rev}:\n${log()}`);
        return appliedRevision() >= rev;
      }, timeoutMs);
    },
    stop: () => stopWith('SIGTERM'),
    kill9: () => stopWith('SIGKILL'),
    async cleanup() {
      try {
        await stopWith('SIGTERM');
      } finally {
        forceUnmount(mountpoint);
        if (!isMounted(mountpoint)) rmSync(base, { recursive: true, force: true });
      }
    },
  };
  try {
    await waitUntil('the FUSE mount', () => {
      if (isDone()) throw new Error(`the FUSE daemon exited before mounting:\n${log()}`);
      return isMounted(mountpoint) && log().includes('fuse: mounted');
    }, opts.readyTimeoutMs ?? 30_000);
  } catch (e) {
    await f.kill9();
    forceUnmount(mountpoint);
    throw e;
  }
  return f;
}
