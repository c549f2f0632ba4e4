/**
 * The path of this package's bin/run.js, for processes that start the CLI again (a
 * migration's copier, `local start`'s workers), and the Node flags a host process (worker,
 * FUSE daemon) runs with. The entry is found by walking up from this module, which runs from
 * dist/src/host/ (tests, library use) or from the bundle dist/bundle/alluxio.cjs.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let found: string | undefined;

export function cliEntry(): string {
  if (found) return found;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 'run.js');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return (found = candidate);
    if (dirname(dir) === dir) throw new Error(`bin/run.js not found above ${fileURLToPath(import.meta.url)}`);
  }
}

/**
 * V8 flags for the host processes (worker, FUSE daemon), given before bin/run.js by whoever
 * starts one (`local start`, `fuse mount --daemon`, the tests) and in bin/run.js's shebang, so
 * `alluxio worker start` run from a shell has them too (test/local/node-flags.test.ts keeps
 * the two the same).
 *
 * --initial-old-space-size=128: with V8's default (the old generation's limit set from a live
 * heap of ~20 MB), a worker streaming large objects ran a full mark-compact every ~130 ms, each
 * freeing under 2 MB: a cold 4 MiB GET cost 36 ms of CPU, 21 of them V8's marking threads.
 * With the limit starting at 128 MB: 25 ms, 10 on those threads, for 20-30 MB more resident
 * memory (docs/cache.md, "The cold path", seventh round).
 */
export const HOST_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];

/** The command line that starts this CLI as a host process: [node, [flags, bin/run.js, ...args]]. */
export function hostCommand(args: readonly string[], entry = cliEntry()): [string, string[]] {
  return [process.execPath, [...HOST_NODE_FLAGS, entry, ...args]];
}

/** The host flags this process was started without (none when bin/run.js's shebang or hostCommand started it). */
export function missingHostFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return HOST_NODE_FLAGS.filter((f) => !execArgv.includes(f));
}
