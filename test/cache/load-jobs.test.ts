/**
 * The worker's load jobs (src/cache/load.ts) as a worker holds them: at most 16 running at
 * once, and the history of finished jobs trimmed without dropping one still running (a
 * second POST of its path then started a duplicate). The running loads list a UFS that
 * accepts connections and never answers (a hung S3 endpoint), so they stay running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheLoader } from '../../src/cache/load.js';
import { Harness, mountOf } from './harness.js';
import { until } from '../helpers/poll.js';

test('at most 16 loads run at once; the history of 100 finished jobs never drops a running one', { timeout: 180_000 }, async () => {
  const sockets = new Set<Socket>();
  const hung = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'load-jobs-'));
  for (let i = 0; i < 101; i++) {
    mkdirSync(join(dir, `d${i}`));
    writeFileSync(join(dir, `d${i}`, 'f'), `file ${i}`);
  }
  const h = new Harness(
    [
      mountOf('/hung', { uri: 's3://hung-bucket/x/', options: { 's3a.endpoint': `http://127.0.0.1:${(hung.address() as AddressInfo).port}`, 's3a.accessKeyId': 'k', 's3a.secretKey': 's', 's3a.socket.timeout': '10m' } }),
      mountOf('/local', { uri: `file://${dir}/`, options: {} }),
    ],
    undefined,
  );
  const loader = new CacheLoader(h.dp);
  try {
    const running = Array.from({ length: 15 }, (_, i) => loader.start(`/hung/p${i}`));
    assert.ok(running.every((j) => j.state === 'running'));
    // 100 finished jobs beside 15 running ones: the history is trimmed, never of a running job
    for (let i = 0; i < 100; i++) {
      const job = loader.start(`/local/d${i}`);
      await until(`load ${i} finished`, () => job.state !== 'running' || undefined);
      assert.equal(job.state, 'done', JSON.stringify(job));
    }
    assert.equal(loader.list().length, 100);
    for (let i = 0; i < 15; i++) assert.equal(loader.get(`/hung/p${i}`), running[i], `running load ${i} kept`);
    assert.equal(loader.start('/hung/p3'), running[3], 'a path already loading is joined');
    running.push(loader.start('/hung/p15'));
    assert.throws(() => loader.start('/local/d100'), (e: { code?: string; message?: string }) => e.code === 'InvalidState' && /16 loads are running/.test(e.message ?? ''));
    assert.equal(loader.start('/hung/p3'), running[3], 'joined, not refused, with 16 running');
  } finally {
    for (const s of sockets) s.destroy();
    hung.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
