/**
 * Life cycle around the FUSE daemon: making a mount point usable (creating it, cleaning the
 * stale mount of a crashed daemon) and running `fuse mount` detached until it reports the
 * mount over IPC. Used by `alluxio fuse mount`.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlluxioError, isErrorCode, type ErrorCode } from '../domain/errors.js';
import { fusermountUnmount, probeMountpoint } from '../frontends/fuse/mountpoint.js';
import { hostCommand } from './cli-entry.js';

/** Make DIR mountable: create it, or clean a stale mount of a crashed daemon. Returns whether it was stale. */
export async function prepareMountpoint(dir: string, note: (msg: string) => void): Promise<boolean> {
  const state = await probeMountpoint(dir);
  switch (state) {
    case 'free':
      return false;
    case 'missing':
      mkdirSync(dir, { recursive: true });
      return false;
    case 'not-a-directory':
      throw new AlluxioError('InvalidArgument', `${dir} is not a directory`);
    case 'mounted':
      throw new AlluxioError('InvalidState', `${dir} is already a FUSE mount served by a live daemon; run: alluxio fuse unmount ${dir}`);
    case 'stale': {
      note(`${dir}: stale FUSE mount of a daemon that is gone (Transport endpoint is not connected); cleaning it up`);
      await fusermountUnmount(dir, { lazy: true });
      const again = await probeMountpoint(dir);
      if (again !== 'free') throw new AlluxioError('InvalidState', `${dir} is still unusable after cleaning the stale mount (${again})`);
      return true;
    }
  }
}

export interface BackgroundMount {
  revision: number;
  pid: number;
  logFile: string;
  staleCleaned: boolean;
}

/** What a daemon started by startInBackground tells its parent: mounted, or its own error. */
export type DaemonReport = { ready: true; mountpoint: string; revision: number; pid: number; staleCleaned: boolean } | { failed: { code: ErrorCode; message: string } };

/** In a daemon started by startInBackground (`readyEnv` set): tell the parent; elsewhere nothing. */
export function tellParent(readyEnv: string, report: DaemonReport): void {
  if (!process.send || process.env[readyEnv] !== '1') return;
  process.send(report);
  if ('ready' in report) process.disconnect?.();
}

/**
 * --daemon: run this same `fuse mount DIR` command line (without --daemon) detached, and wait
 * until the child reports the mount over IPC (the child checks `readyEnv`).
 */
export async function startInBackground(dir: string, logFileFlag: string | undefined, readyTimeoutMs: number, readyEnv: string): Promise<BackgroundMount> {
  const logFile = logFileFlag ?? join(tmpdir(), `alluxio-fuse-${dir.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'root'}.log`);
  const argv = process.argv.slice(2).filter((a) => a !== '--daemon' && a !== '--background' && a !== '--json');
  // Same arguments, same working directory (so a relative DIR means the same), no --daemon.
  const fd = openSync(logFile, 'a');
  const child = spawn(...hostCommand(argv, process.argv[1]!), {
    cwd: process.cwd(),
    detached: true,
    stdio: ['ignore', fd, fd, 'ipc'],
    env: { ...process.env, [readyEnv]: '1' },
  });
  closeSync(fd);
  type Failed = { ok: false; why: string; error?: { code: ErrorCode; message: string } };
  const outcome = await new Promise<{ ok: true; msg: { revision: number; pid: number; staleCleaned: boolean } } | Failed>((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, why: `not mounted within ${readyTimeoutMs + 5000} ms` }), readyTimeoutMs + 5000);
    child.once('message', (m: { ready?: boolean; revision: number; pid: number; staleCleaned: boolean; failed?: { code: ErrorCode; message: string } }) => {
      clearTimeout(timer);
      if (m.ready) resolve({ ok: true, msg: m });
      // the daemon's own error (etcd unreachable, a busy mountpoint...): its code, so its exit status
      else if (m.failed && isErrorCode(m.failed.code)) resolve({ ok: false, why: m.failed.message, error: m.failed });
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ ok: false, why: `the daemon exited (${sig ?? `code ${String(code)}`})` });
    });
  });
  if (!outcome.ok) {
    // a daemon that reported its error exits by itself once it has logged it: a moment for that
    if (outcome.error && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let tail = '';
    try {
      tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join('\n');
    } catch {
      /* no log */
    }
    if (outcome.error) throw new AlluxioError(outcome.error.code, `fuse mount of ${dir} failed: ${outcome.error.message} (log: ${logFile})`);
    const last = /Error: (.*)/.exec(tail)?.[1];
    throw new AlluxioError('InvalidState', `fuse mount of ${dir} failed: ${last ?? outcome.why} (log: ${logFile})`);
  }
  if (child.connected) child.disconnect();
  child.unref();
  return { revision: outcome.msg.revision, pid: outcome.msg.pid, logFile, staleCleaned: outcome.msg.staleCleaned };
}
