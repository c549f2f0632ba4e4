import type { ChildProcess } from 'node:child_process';

export interface ProcOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Collect the output of a child spawned with stdout and stderr piped, until it exits.
 * With `timeoutMs` it is SIGKILLed if it runs longer. Rejects when it cannot be spawned.
 */
export function collect(child: ChildProcess, timeoutMs?: number): Promise<ProcOutput> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const t = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}
