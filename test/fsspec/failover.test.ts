/**
 * alluxiofs with several real workers: discovery through etcd's JSON gateway, a worker
 * killed with SIGKILL in the middle of a read is routed around (rendezvous order), its
 * lease expires and discovery drops it, and with every worker gone reads fall back to the
 * UFS only when asked to.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkerProcess } from '../helpers/worker.js';
import { python, scenario, startFsEnv, workerHosts, type FsEnv } from './env.js';
import { freePort } from '../../src/local/etcd-server.js';

let env: FsEnv;
let pyEnv: Record<string, string>;
const dead = new Set<WorkerProcess>();

function name(w: WorkerProcess): string {
  return `127.0.0.1:${w.restPort}`;
}

before(async () => {
  env = await startFsEnv({ workers: 3, leaseTtl: '2s' });
  const etcdUrl = new URL(env.etcd.endpoint);
  pyEnv = {
    WORKER_HOSTS: workerHosts(env.workers),
    WORKER_PIDS: env.workers.map((w) => `${name(w)}=${w.pid}`).join(','),
    DATA_DIR: env.data,
    RO_DIR: env.ro,
    OUTSIDE_DIR: env.outside,
    ETCD_HOST: etcdUrl.hostname,
    ETCD_PORT: etcdUrl.port,
  };
});

after(async () => {
  await env?.destroy();
});

test('etcd discovery finds every live worker through the JSON gateway', async () => {
  const r = await scenario('etcd_discovery', { ...pyEnv, LIVE_WORKERS: env.workers.map(name).join(',') });
  assert.deepEqual(r.workers, env.workers.map(name).sort());
});

test('a worker killed (SIGKILL) in the middle of a read is routed around', async () => {
  // Over HTTP: with short-circuit the open file would be read locally and the stream's
  // failover would not be exercised.
  const r = await scenario('failover', { ...pyEnv, ALLUXIO_SHORT_CIRCUIT: '0' });
  const victim = env.workers.find((w) => name(w) === r.victim);
  assert.ok(victim, `victim ${r.victim} is one of ours`);
  assert.equal(await victim.exited, 'SIGKILL');
  dead.add(victim);
  assert.equal(r.order[0], r.victim);
});

test('after its lease expires the killed worker leaves etcd discovery; reads go on', async () => {
  const live = env.workers.filter((w) => !dead.has(w));
  assert.equal(live.length, 2);
  const r = await scenario('etcd_discovery', { ...pyEnv, LIVE_WORKERS: live.map(name).join(',') });
  assert.deepEqual(r.workers, live.map(name).sort());
});

test('a UFS that does not answer: UfsUnavailableError saying so, and the workers that said it are not taken for dead', async () => {
  const closed = await freePort();
  await env.must(['mount', 'add', '--path', '/gone', '--ufs-uri', 's3://nowhere/data/', '--option', `s3a.endpoint=http://127.0.0.1:${closed}`, '--option', 's3a.socket.timeout=5s', '--wait']);
  const live = env.workers.filter((w) => !dead.has(w));
  const r = await python(
    [
      '-c',
      `
import json, os, alluxiofs
fs = alluxiofs.AlluxioFileSystem(worker_hosts=os.environ["LIVE"], short_circuit=False, skip_instance_cache=True)
try:
    fs.cat_file("/gone/x.bin"); out = "read"
except alluxiofs.UfsUnavailableError as e:
    out = "UfsUnavailableError: " + str(e)
except Exception as e:
    out = type(e).__name__ + ": " + str(e)
print(json.dumps({"out": out, "dead": sorted(fs.client._dead), "isWorkersUnavailable": isinstance(alluxiofs.UfsUnavailableError("x"), alluxiofs.WorkersUnavailableError)}))
`,
    ],
    { LIVE: workerHosts(live) },
  );
  assert.equal(r.code, 0, r.stderr);
  const doc = r.json();
  assert.match(doc.out, /^UfsUnavailableError: the UFS behind alluxio:\/\/\/gone\/x\.bin is unavailable \(every worker tried says so\)/);
  assert.deepEqual(doc.dead, [], 'a worker whose UFS is down is no dead worker');
  assert.equal(doc.isWorkersUnavailable, true, 'ufs_fallback still applies');
  await env.must(['mount', 'remove', '--path', '/gone', '--yes', '--wait']);
});

test('with every worker down: WorkersUnavailableError, or the UFS itself with ufs_fallback', async () => {
  await Promise.all(env.workers.map((w) => w.stop()));
  const r = await scenario('fallback', pyEnv);
  assert.match(r.error, /no worker could serve/);
});
