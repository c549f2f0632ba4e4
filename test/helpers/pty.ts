/**
 * Run the real CLI under a pseudo-terminal (util-linux `script`), answering prompts as a
 * person would: each step waits until its prompt text is on screen (polled, no sleeps) and
 * then types its keystrokes.
 */
import { spawn } from 'node:child_process';
import { RUN } from './cli.js';

export interface PtyStep {
  /** What must be on screen (since the previous step) before typing. */
  when: RegExp;
  /** Keystrokes ('\r' is Enter). */
  type: string;
  /** Runs after the prompt appears and before typing (e.g. change etcd underneath). */
  before?: () => Promise<void>;
}

export function runInPty(args: string[], env: Record<string, string | undefined>, steps: PtyStep[] = [], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const quoted = [process.execPath, RUN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const e: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let seen = 0;
    let busy = false;
    const pending = [...steps];
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const iv = setInterval(() => {
      const step = pending[0];
      if (!step || busy || !step.when.test(out.slice(seen))) return;
      busy = true;
      pending.shift();
      seen = out.length;
      (step.before ? step.before() : Promise.resolve()).then(() => {
        child.stdin.write(step.type);
        busy = false;
      }, reject);
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(iv);
      resolve({ code, out });
    });
  });
}
