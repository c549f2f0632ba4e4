/**
 * rclone's VFS cache as the peer a user would pick instead of Alluxio (bench/cache.ts):
 * `rclone mount :s3:<bucket> --vfs-cache-mode full` over the same shaped S3 UFS, read through
 * its FUSE mount. A helper module: running it does nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fuseMountAt } from '../../src/frontends/fuse/mountpoint.js';
import { stopChild, waitFor } from '../lib.js';

export function rcloneSkipReason(): string | null {
  if (!existsSync('/dev/fuse') || process.getuid?.() !== 0) return 'needs root and /dev/fuse';
  if (spawnSync('sh', ['-c', 'command -v rclone']).status !== 0) return 'rclone is not installed (apt-get install rclone)';
  return null;
}

export interface RcloneMount {
  mountpoint: string;
  stop(): Promise<void>;
}

/** Mount `bucket` of the S3 endpoint with a fresh VFS cache in `dir`. */
export async function mountRclone(dir: string, endpoint: string, bucket: string): Promise<RcloneMount> {
  const mountpoint = join(dir, 'mnt');
  const cacheDir = join(dir, 'vfs-cache');
  mkdirSync(mountpoint, { recursive: true });
  mkdirSync(cacheDir, { recursive: true });
  const child: ChildProcess = spawn(
    'rclone',
    [
      'mount', `:s3:${bucket}`, mountpoint,
      '--s3-provider', 'Other', '--s3-endpoint', endpoint, '--s3-region', 'us-east-1',
      '--s3-access-key-id', 'S3RVER', '--s3-secret-access-key', 'S3RVER', '--s3-force-path-style',
      '--vfs-cache-mode', 'full', '--cache-dir', cacheDir, '--vfs-cache-max-age', '1h', '--dir-cache-time', '1h',
      '--read-only', '--log-level', 'ERROR',
    ],
    // AWS_CA_BUNDLE (set on many machines) makes rclone's S3 client refuse its own transport:
    // the endpoint is plain HTTP on loopback, so no CA is involved.
    { stdio: ['ignore', 'inherit', 'inherit'], env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'AWS_CA_BUNDLE')) },
  );
  await waitFor('the rclone mount', () => fuseMountAt(mountpoint) !== undefined || child.exitCode !== null, 30_000);
  if (child.exitCode !== null) throw new Error(`rclone mount exited (${child.exitCode})`);
  return {
    mountpoint,
    async stop() {
      if (fuseMountAt(mountpoint)) spawnSync('fusermount', ['-uz', mountpoint]);
      await stopChild(child);
    },
  };
}

/** Read every file of `names` under `dir` once at `concurrency`; checks sizes; seconds taken. */
export async function readAll(dir: string, names: string[], size: number, concurrency: number): Promise<number> {
  let i = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < names.length) {
        const name = names[i++]!;
        const b = await readFile(join(dir, name));
        if (b.length !== size) throw new Error(`${dir}/${name}: ${b.length} bytes, expected ${size}`);
      }
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
