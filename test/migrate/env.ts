/**
 * Shared setup for the migration tests: a real etcd, temp dirs used as old/new file://
 * UFSs, the real CLI (bin/run.js) with a private state dir for the copier's log and pid
 * files, and cleanup that stops every copier process the tests started (by pid).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor, PATIENT_ETCD, type CliResult } from '../helpers/cli.js';
import { keyHistory } from '../helpers/etcd-history.js';

export interface MigEnv {
  etcd: TestEtcd;
  dir: string;
  stateDir: string;
  cli: (args: string[], opts?: { env?: Record<string, string | undefined>; timeoutMs?: number }) => Promise<CliResult>;
  /** A fresh directory under the env's temp dir. */
  mkdir(name: string): string;
  destroy(): Promise<void>;
}

export async function startMigEnv(): Promise<MigEnv> {
  const etcd = await startTestEtcd();
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-migrate-test-'));
  const stateDir = join(dir, 'state');
  // Readers, workers and copiers share the machine with the CLI: under heavy load an etcd
  // call can take longer than the default 5 s deadline without anything being wrong.
  const base = cliFor(etcd.endpoint, 'default', PATIENT_ETCD);
  const cli: MigEnv['cli'] = (args, opts = {}) => base(args, { ...opts, env: { ALLUXIO_STATE_DIR: stateDir, ...(opts.env ?? {}) } });
  return {
    etcd,
    dir,
    stateDir,
    cli,
    mkdir(name) {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      return d;
    },
    async destroy() {
      killCopiers(stateDir);
      await etcd.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** SIGKILL every copier whose pid file is in the state dir and that is still alive. */
export function killCopiers(stateDir: string): void {
  const d = join(stateDir, 'migrations', 'default');
  let names: string[] = [];
  try {
    names = readdirSync(d).filter((n) => n.endsWith('.pid'));
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(readFileSync(join(d, n), 'utf8').trim());
    if (pid > 0 && alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Deterministic pseudo-random content per name (so old and new can be compared by value). */
export function content(name: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(name).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Write files { 'a/b.bin': size } under dir; returns name -> bytes. */
export function populate(dir: string, files: Record<string, number>): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const [name, size] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    const b = content(name, size);
    writeFileSync(p, b);
    m.set(name, b);
  }
  return m;
}

/** Every regular file under dir (relative path -> bytes), temp files included. */
export function snapshotTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

export function inodes(dir: string, names: Iterable<string>): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of names) {
    const st = statSync(join(dir, n));
    m.set(n, `${st.ino}:${st.mtimeMs}`);
  }
  return m;
}

/** Poll `migrate status --id ID --json` until pred holds; returns that document. */
export async function waitStatus(env: MigEnv, id: string, pred: (s: any) => boolean, what: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const r = await env.cli(['migrate', 'status', '--id', id, '--json']);
    if (r.code === 0) {
      last = r.json();
      if (pred(last)) return last;
      if (last.state === 'failed' && !what.includes('fail')) throw new Error(`${id} failed while waiting for ${what}: ${JSON.stringify(last.error)}\n${copierLog(env, id)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what} of ${id}; last status ${JSON.stringify(last)}\n${copierLog(env, id)}`);
}

export function copierLog(env: MigEnv, id: string): string {
  const d = join(env.stateDir, 'migrations', 'default');
  try {
    // <id>-<created>.log (src/migrate/spawn.ts)
    const name = readdirSync(d).find((n) => n.startsWith(`${id}-`) && n.endsWith('.log'));
    return name ? readFileSync(join(d, name), 'utf8') : '(no copier log)';
  } catch {
    return '(no copier log)';
  }
}

export function must(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Every version ever written of a migration record (etcd history, oldest first). */
export async function recordVersions(endpoint: string, id: string, cluster = 'default'): Promise<any[]> {
  return (await keyHistory(endpoint, `/alluxio/${cluster}/migrations/${id}`)).map((v) => JSON.parse(v.value));
}
