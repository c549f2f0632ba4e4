/** Small helpers shared by the benchmarks. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuseMountAt } from '../src/frontends/fuse/mountpoint.js';

/** The median (mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Run a bench's main(): on failure print the message (no stack) and exit 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}

/** The number after `--name` on the command line (`def` without one); must be positive. */
export function numArg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

/** One command timed as a whole process: wall-clock samples and CPU (user+sys) samples. */
export interface TimedCase {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Throws when the output is not what the command should print (a fast failure is no result). */
  check: (stdout: string) => void;
  samples: number[];
  cpu: number[];
}

/**
 * Run the case once: returns its wall time in ms and records its CPU time (user + system,
 * all its threads): on a machine shared with other work the wall clock includes waiting for
 * a core, the CPU time does not. CPU comes from bash's `times` (the children's line, in
 * milliseconds; GNU time rounds to 10 ms). The wall time includes starting bash (~2 ms),
 * for every case alike.
 */
export function timeCommand(c: TimedCase): number {
  const script = '"$@"; rc=$?; times >&2; exit $rc';
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script, 'bash', c.cmd, ...c.args], { env: c.env ?? process.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
  c.check(r.stdout);
  // `times`: the shell's own user/sys line, then its children's: "0m0.108s 0m0.021s"
  const m = /(\d+)m(\d+(?:\.\d+)?)s (\d+)m(\d+(?:\.\d+)?)s\s*$/.exec(r.stderr);
  if (m) c.cpu.push((Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000);
  return ms;
}

/** Stop a child process (SIGTERM, SIGKILL after 5 s) and wait for it to exit. */
export async function stopChild(c: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill(signal);
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Poll `ok` every 50 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** dd the file to /dev/null with bs=1M; MB/s (10^6 bytes per second, like dd). */
export function ddRead(file: string, bytes: number): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M', 'status=none'], { encoding: 'utf8' });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`dd ${file} failed: ${r.stderr}`);
  return bytes / 1e6 / secs;
}

/** The repository root (dist/bench/lib.js -> ../..). */
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** s3rver (npm) in a child process on 127.0.0.1:`port`, with one bucket. */
export function startS3rver(dir: string, port: number, bucket = 'bench'): ChildProcess {
  const code = `const S3rver = require(${JSON.stringify(join(REPO, 'node_modules', 's3rver'))});
new S3rver({ port: ${port}, address: '127.0.0.1', directory: ${JSON.stringify(dir)}, silent: true, configureBuckets: [{ name: ${JSON.stringify(bucket)} }] }).run();`;
  return spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Poll `url` until it answers (any status), or throw naming the last error. */
export async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(1000) })).arrayBuffer();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${url} not answering: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Tear down a FUSE comparison: unmount the peer's mount (bindfs), stop the daemon (SIGTERM,
 * SIGKILL after 10 s), then make sure its mount point is unmounted too.
 */
export async function stopFuse(daemon: ChildProcess | undefined, fuseMnt: string, peerMnt: string): Promise<void> {
  if (fuseMountAt(peerMnt)) spawnSync('fusermount', ['-uz', peerMnt]);
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  }
  if (fuseMountAt(fuseMnt)) spawnSync('fusermount', ['-uz', fuseMnt]);
}

/** Random bytes (nothing compressible or sparse) into `file`. */
export function writeRandomFile(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (let done = 0; done < bytes; done += chunk.length) {
    randomFillSync(chunk);
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  }
  closeSync(fd);
}
