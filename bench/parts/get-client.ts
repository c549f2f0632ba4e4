/**
 * The cache bench's load generator: GET every name `passes` times at `concurrency` over
 * keep-alive connections, checking each answer's status and size, and report the seconds
 * taken. `getAll` runs it in a long-lived child process of its own (jobs over IPC), as a
 * separate load generator such as wrk would run: in the bench's process it shared one event
 * loop and heap with s3rver and the shaping proxy (and the 128 MiB of objects the bench
 * wrote), so the client's own pauses were part of every target's figure, and more so for
 * the servers that answer fastest.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';

export interface GetJob {
  base: string;
  names: string[];
  size: number;
  concurrency: number;
  passes: number;
}

/** The job in this process; seconds taken. */
export async function getAllHere(j: GetJob): Promise<number> {
  const u = new URL(j.base);
  const prefix = u.pathname.replace(/\/$/, '');
  const agent = new Agent({ keepAlive: true, maxSockets: j.concurrency });
  let i = 0;
  const one = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path, agent }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 && n === j.size ? resolve() : reject(new Error(`${j.base}${path}: HTTP ${res.statusCode}, ${n} bytes`))));
        res.on('error', (e) => reject(new Error(`${j.base}${path}: ${e.message}`)));
      });
      req.on('error', (e) => reject(new Error(`${j.base}${path}: ${e.message}`)));
      req.end();
    });
  const total = j.names.length * j.passes;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: j.concurrency }, async () => {
      while (i < total) await one(`${prefix}/${j.names[i++ % j.names.length]!}`);
    }),
  );
  agent.destroy();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const SELF = fileURLToPath(import.meta.url);

let child: ChildProcess | undefined;
let seq = 0;
const waiting = new Map<number, { resolve: (s: number) => void; reject: (e: Error) => void }>();

/**
 * GET every name `passes` times at `concurrency` from the load generator's process (one,
 * long-lived, so its JIT warms up like the servers'); seconds taken.
 */
export function getAll(base: string, names: string[], size: number, concurrency: number, passes = 1): Promise<number> {
  if (!child) {
    const c = fork(SELF, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.on('message', (m: { id: number; seconds?: number; error?: string }) => {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.seconds!);
    });
    c.on('exit', (code, sig) => {
      for (const w of waiting.values()) w.reject(new Error(`the load generator exited (${code ?? sig})`));
      waiting.clear();
      child = undefined;
    });
    child = c;
  }
  const id = ++seq;
  const job: GetJob = { base, names, size, concurrency, passes };
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    child!.send({ id, job });
  });
}

/** Stop the load generator's process (the bench's clean-up). */
export function stopGetClient(): void {
  child?.kill();
  child = undefined;
}

if (process.argv[1] === SELF && process.send) {
  process.on('message', (m: { id: number; job: GetJob }) => {
    getAllHere(m.job).then(
      (seconds) => process.send!({ id: m.id, seconds }),
      (e: Error) => process.send!({ id: m.id, error: e.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
