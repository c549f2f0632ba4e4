/**
 * In-process harness for the cache behind DataPath: a real UFS (a file:// directory or an
 * s3rver bucket), a Snapshot of mounts the test can re-point, the worker's adapter registry,
 * a real WorkerCache on disk, and the real DataPath every front end calls. Nothing is mocked:
 * only etcd is left out (the snapshot is built directly, as the informer would build it).
 */
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { parseMount, type ParsedMount } from '../../src/domain/mounts.js';
import { Snapshot } from '../../src/domain/snapshot.js';
import { DataPath } from '../../src/frontends/common/data-path.js';
import type { FrontendContext } from '../../src/frontends/context.js';
import { UfsRegistry } from '../../src/ufs/registry.js';
import { createUfsAdapter } from '../../src/ufs/registry.js';
import { WorkerCache, type WorkerCacheOptions } from '../../src/cache/cache.js';
import type { ByteRange, UfsAdapter } from '../../src/ufs/types.js';
import { freePort } from '../../src/local/etcd-server.js';

const require = createRequire(import.meta.url);

export interface UfsBackend {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A UFS URI for a fresh directory/prefix `name`, with the mount options it needs. */
  root(name: string): { uri: string; options: Record<string, string> };
}

export function fileBackend(): UfsBackend {
  let dir = '';
  return {
    name: 'file://',
    async start() {
      dir = mkdtempSync(join(tmpdir(), 'cache-ufs-'));
    },
    async stop() {
      rmSync(dir, { recursive: true, force: true });
    },
    root(name) {
      mkdirSync(join(dir, name), { recursive: true });
      return { uri: `file://${join(dir, name)}`, options: {} };
    },
  };
}

export function s3rverBackend(): UfsBackend {
  let server: { run(): Promise<unknown>; close(): Promise<void> } | undefined;
  let dir = '';
  let options: Record<string, string> = {};
  return {
    name: 's3:// (s3rver)',
    async start() {
      dir = mkdtempSync(join(tmpdir(), 'cache-s3rver-'));
      const port = await freePort();
      const S3rver = require('s3rver');
      server = new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: 'cache-test' }] });
      await server!.run();
      options = { 's3a.endpoint': `http://127.0.0.1:${port}`, 's3a.accessKeyId': 'S3RVER', 's3a.secretKey': 'S3RVER' };
    },
    async stop() {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    },
    root(name) {
      return { uri: `s3://cache-test/${name}`, options: { ...options } };
    },
  };
}

export class Harness {
  snap: Snapshot;
  readonly dp: DataPath;
  readonly ctx: FrontendContext;
  private rev = 1;
  private readonly ufs = new UfsRegistry({ create: (m) => createUfsAdapter({ ...m, readOnly: false }), readOnlyInKey: false, graceMs: 0 });

  constructor(mounts: ParsedMount[], public cache: WorkerCache | undefined) {
    this.snap = Snapshot.build(this.rev, { mounts, rules: [] });
    const self = this;
    this.ctx = {
      snapshot: () => self.snap,
      ufs: (m) => self.ufs.adapterFor(m),
      log: pino({ level: 'silent' }),
      get cache() {
        return self.cache;
      },
    };
    this.dp = new DataPath(this.ctx);
  }

  /** Replace the mount table (a re-pointed mount, a cutover). */
  setMounts(mounts: ParsedMount[]): void {
    this.snap = Snapshot.build(++this.rev, { mounts, rules: [] });
  }

  target(path: string, write = false) {
    return this.dp.target(this.dp.snapshot(), { api: 'alluxio', path }, { write });
  }

  /** The adapter of the mount `path` is in (to change the UFS behind the cache's back). */
  adapter(path: string): UfsAdapter {
    return this.target(path).adapter;
  }

  /** GET through DataPath: the whole object as a stream, or a range as one buffer. */
  async read(path: string, range?: ByteRange): Promise<Buffer | null> {
    const o = await this.dp.open(this.target(path));
    if (!o) return null;
    if (range) return o.bytes(range);
    const parts: Buffer[] = [];
    for await (const c of await o.stream()) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  async put(path: string, data: Buffer): Promise<void> {
    await this.dp.write(this.target(path, true), Readable.from([data]));
  }

  /** Write straight to the UFS, behind the cache's back (as another client would). */
  async putBehind(path: string, data: Buffer): Promise<void> {
    const t = this.target(path);
    await t.adapter.write(t.rel, Readable.from([data]));
  }

  async close(): Promise<void> {
    await this.ufs.closeAll();
  }
}

export function mountOf(path: string, root: { uri: string; options: Record<string, string> }, extra: Record<string, string> = {}): ParsedMount {
  return parseMount({ path, ufsUri: root.uri, options: { ...root.options, ...extra } });
}

export async function openCache(dir: string, o: Partial<WorkerCacheOptions> = {}): Promise<WorkerCache> {
  return WorkerCache.open({ dir, capacityBytes: 64 << 20, pageSize: 64 * 1024, memoryBytes: 0, ...o });
}

/** Deterministic bytes (a different pattern per seed). */
export function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** One value of a worker's /metrics (throws when the metric is not there). */
export async function metric(w: { restUrl: string }, name: string): Promise<number> {
  const text = await (await fetch(`${w.restUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} not in /metrics`);
  return Number(m[1]);
}
