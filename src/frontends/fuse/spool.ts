/**
 * Where the FUSE daemon spools writes: a private temp dir per daemon, named with its pid.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A spool dir of our own, named with our pid; spool dirs of daemons that are gone (killed
 * before they could remove theirs) are swept first, so a crash leaves nothing behind for long.
 */
export function newSpoolDir(): string {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    const m = /^alluxio-fuse-spool-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(base, name), { recursive: true, force: true });
    }
  }
  return mkdtempSync(join(base, `alluxio-fuse-spool-${process.pid}-`));
}
