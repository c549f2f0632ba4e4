/** Run the real CLI (bin/run.js) as a child process, the way users and scripts do. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const RUN = join(ROOT, 'bin', 'run.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json<T = any>(): T;
}

export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...opts.env };
    for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, [RUN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A CLI bound to one etcd endpoint and cluster (and optional extra environment). */
export function cliFor(endpoint: string, cluster = 'default', env: Record<string, string | undefined> = {}) {
  return (args: string[], opts: Parameters<typeof runCli>[1] = {}) =>
    runCli(args, { ...opts, env: { ALLUXIO_ETCD_ENDPOINTS: endpoint, ALLUXIO_CLUSTER: cluster, ...env, ...(opts.env ?? {}) } });
}

/**
 * For tests that start many CLI processes at once against a healthy etcd: on a loaded
 * 2-core machine a dozen node processes starting together can miss the default 5 s etcd
 * call deadline without anything being wrong. Not for tests about an unreachable etcd.
 */
export const PATIENT_ETCD: Record<string, string> = { ALLUXIO_ETCD_TIMEOUT: '60s' };
