/**
 * Shared setup for the REST and FSSpec tests: a real etcd, real worker processes, two
 * file:// mounts in a temp dir (/data read-write, /ro read-only) with a sibling "outside"
 * dir that must never be reachable, and a runner for Python scripts under Debian's
 * /usr/bin/python3 with PYTHONPATH=python (the package as in the repository).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startWorkers, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { cliFor, ROOT } from '../helpers/cli.js';
import { makeMountTree } from '../helpers/mount-tree.js';
import { collect } from '../helpers/proc.js';

export const PYTHON = '/usr/bin/python3';
export const PY_DIR = join(ROOT, 'python');
export const PY_TESTS = join(PY_DIR, 'tests');

export interface FsEnv {
  etcd: TestEtcd;
  dir: string;
  /** Directory of the read-write mount /data. */
  data: string;
  /** Directory of the read-only mount /ro. */
  ro: string;
  /** Next to the mounts; never reachable through them. */
  outside: string;
  workers: WorkerProcess[];
  cli: ReturnType<typeof cliFor>;
  /** Run a CLI command, throwing on a non-zero exit; returns the parsed JSON. */
  must(args: string[]): Promise<any>;
  destroy(): Promise<void>;
}

export async function startFsEnv(opts: { workers?: number; leaseTtl?: string } = {}): Promise<FsEnv> {
  const etcd = await startTestEtcd();
  const { dir, data, ro, outside } = makeMountTree('fsspec-test-');
  const cli = cliFor(etcd.endpoint);
  const must = async (args: string[]) => {
    const r = await cli([...args, '--json']);
    if (r.code !== 0) throw new Error(`alluxio ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.json();
  };
  let workers: WorkerProcess[] = [];
  try {
    await must(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${data}`]);
    await must(['mount', 'add', '--path', '/ro', '--ufs-uri', `file://${ro}`, '--readonly']);
    workers = await startWorkers(etcd.endpoint, opts.workers ?? 1, { leaseTtl: opts.leaseTtl ?? '10s' });
  } catch (e) {
    await stopWorkers(workers);
    await etcd.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    etcd,
    dir,
    data,
    ro,
    outside,
    workers,
    cli,
    must,
    async destroy() {
      await stopWorkers(workers);
      await etcd.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run a CLI command that commits config and wait until every (live) worker applied its revision. */
export async function commit(env: FsEnv, args: string[], workers: readonly WorkerProcess[] = env.workers): Promise<number> {
  const doc = await env.must(args);
  const rev = Number(doc.revision);
  if (!(rev > 0)) throw new Error(`alluxio ${args.join(' ')} printed no revision: ${JSON.stringify(doc)}`);
  await Promise.all(workers.map((w) => w.waitForRevision(rev)));
  return rev;
}

export interface PyResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON. */
  json<T = any>(): T;
}

/** Run a Python file (or `-c` code) under /usr/bin/python3 with PYTHONPATH=python. */
export async function python(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<PyResult> {
  const child = spawn(PYTHON, args, {
    env: { ...process.env, PYTHONPATH: PY_DIR, PYTHONDONTWRITEBYTECODE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await collect(child, timeoutMs);
  return {
    code,
    stdout,
    stderr,
    json() {
      const lines = stdout.trim().split('\n');
      try {
        return JSON.parse(lines[lines.length - 1] ?? '');
      } catch {
        throw new Error(`python printed no JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
      }
    },
  };
}

/** Run one scenario of python/tests/scenarios.py; fails with its output when it exits non-zero. */
export async function scenario(name: string, env: Record<string, string>, timeoutMs?: number): Promise<any> {
  const r = await python([join(PY_TESTS, 'scenarios.py'), name], env, timeoutMs);
  if (r.code !== 0) throw new Error(`scenario ${name} failed (exit ${r.code}):\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.json();
}

export function workerHosts(workers: readonly WorkerProcess[]): string {
  return workers.map((w) => `127.0.0.1:${w.restPort}`).join(',');
}
