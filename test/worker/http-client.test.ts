/**
 * A worker sends no request with node:http's client: its servers are node:http, and a client
 * request in the same process deoptimises the servers' response code (docs/cache.md, "The
 * warm path", fourth and fifth rounds). Its etcd gateway calls (lease renewals every TTL/3)
 * go through undici (src/store/gateway-undici.ts; `worker start` chooses it).
 *
 * Seen from inside the worker by a preload (NODE_OPTIONS=--require): it wraps http.request
 * and http.get, and subscribes to undici's `undici:request:create` diagnostics channel, and
 * writes one line per request to stderr (the worker's log here).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';

const PRELOAD = `
const http = require('node:http');
for (const name of ['request', 'get']) {
  const orig = http[name];
  http[name] = function (...args) {
    process.stderr.write('probe: node:http client ' + name + '\\n');
    return orig.apply(this, args);
  };
}
require('node:diagnostics_channel').subscribe('undici:request:create', ({ request }) => {
  process.stderr.write('probe: undici ' + request.method + ' ' + request.path + '\\n');
});
`;

describe('a worker and node:http client requests', () => {
  let etcd: TestEtcd;
  let worker: WorkerProcess | undefined;
  let dir: string;

  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'alluxio-http-client-'));
    writeFileSync(join(dir, 'probe.cjs'), PRELOAD);
  });
  after(async () => {
    await worker?.stop();
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renews its lease through undici and never uses node:http as a client', async () => {
    const nodeOptions = [process.env.NODE_OPTIONS, `--require ${join(dir, 'probe.cjs')}`].filter(Boolean).join(' ');
    worker = await startWorker(etcd.endpoint, { leaseTtl: '3s', env: { NODE_OPTIONS: nodeOptions } });
    // two renewals (one per second at a 3 s TTL)
    await until('two lease renewals', () => (worker!.log().match(/probe: undici POST \/v3\/lease\/keepalive/g) ?? []).length >= 2);
    assert.doesNotMatch(worker.log(), /probe: node:http client/);
  });
});
