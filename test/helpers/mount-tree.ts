/**
 * The local directory tree the front-end tests mount: data/ (for a read-write mount),
 * ro/ (for a read-only mount, holding readme.txt = "read only") and, next to them,
 * outside/ (holding secret = "top secret"), which no mount may ever reach.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MountTree {
  /** The temp dir holding everything (the caller removes it). */
  dir: string;
  data: string;
  ro: string;
  outside: string;
}

export function makeMountTree(prefix: string): MountTree {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const data = join(dir, 'mnt', 'data');
  const ro = join(dir, 'mnt', 'ro');
  const outside = join(dir, 'outside');
  mkdirSync(data, { recursive: true });
  mkdirSync(ro, { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret'), 'top secret');
  writeFileSync(join(ro, 'readme.txt'), 'read only');
  return { dir, data, ro, outside };
}
