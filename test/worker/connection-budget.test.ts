/**
 * The worker's connection budget (src/host/connection-budget.ts): connections over the total
 * or over one address's share are closed at accept, so a client opening connections cannot
 * exhaust the file descriptors the worker needs for its own work. The budget's arithmetic on
 * real loopback sockets (127.0.0.x source addresses), its default from the open-file limit,
 * its rate-limited log, and a real worker under a flood with a low open-file limit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { clientOf, ConnectionBudget, defaultMaxConnections, refusalLog, type Refusal } from '../../src/host/connection-budget.js';
import { until } from '../helpers/poll.js';
import { cliFor, runCli } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { makeMountTree, type MountTree } from '../helpers/mount-tree.js';
import { startWorker, stopWorkers, type WorkerProcess } from '../helpers/worker.js';

/** A connection from `from` (a loopback address) to `port`, and whether the server closed it. */
function open(port: number, from: string, hello = ''): { socket: Socket; closed: () => boolean; connected: Promise<void> } {
  let closed = false;
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
  socket.on('error', () => undefined); // (a refused connection may end in a reset)
  socket.on('close', () => (closed = true));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => {
    if (hello) socket.write(hello);
    resolve();
  }));
  return { socket, closed: () => closed, connected };
}

describe('ConnectionBudget on real sockets', () => {
  let server: Server;
  let port: number;
  const refusals: [Refusal, string][] = [];
  const budget = new ConnectionBudget({ max: 3, perClient: 2 }, (why, client) => refusals.push([why, client]));
  const sockets: Socket[] = [];

  before(async () => {
    server = createServer((s) => void s.on('error', () => undefined));
    server.on('connection', (s: Socket) => budget.admit(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('admits up to the per-client share, then up to the total; a closed connection gives its slot back', async () => {
    const a1 = open(port, '127.0.0.1');
    const a2 = open(port, '127.0.0.1');
    sockets.push(a1.socket, a2.socket);
    await Promise.all([a1.connected, a2.connected]);
    await until('two admitted', () => budget.openCount === 2);
    const a3 = open(port, '127.0.0.1');
    sockets.push(a3.socket);
    await until('the third from 127.0.0.1 is closed by the server', () => a3.closed());
    assert.equal(budget.refusedCount('client'), 1);
    assert.deepEqual(refusals[0], ['client', '127.0.0.1']);
    const b1 = open(port, '127.0.0.2');
    sockets.push(b1.socket);
    await until('another address is admitted', () => budget.openCount === 3);
    const c1 = open(port, '127.0.0.3');
    sockets.push(c1.socket);
    await until('over the total: closed', () => c1.closed());
    assert.equal(budget.refusedCount('total'), 1);
    assert.ok(!a1.closed() && !a2.closed() && !b1.closed(), 'admitted connections stay open');
    a1.socket.destroy();
    await until('the slot is given back', () => budget.openCount === 2);
    const c2 = open(port, '127.0.0.3');
    sockets.push(c2.socket);
    await until('admitted again', () => budget.openCount === 3);
    assert.ok(!c2.closed());
  });

  it('worker start refuses limits out of range as usage errors (exit 2), before anything starts', async () => {
    const env = { ALLUXIO_ETCD_ENDPOINTS: 'http://127.0.0.1:1' };
    for (const [flag, value, why] of [
      ['--max-connections', '0', /greater than or equal to 1/],
      ['--max-connections', '99999999999999999999', /less than or equal to 1000000/],
      ['--max-connections-per-client', '-1', /greater than or equal to 0/],
    ] as const) {
      const r = await runCli(['worker', 'start', flag, value], { env });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, why);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('refuses limits that are not positive integers', () => {
    assert.throws(() => new ConnectionBudget({ max: 0, perClient: 0 }), RangeError);
    assert.throws(() => new ConnectionBudget({ max: 10, perClient: -1 }), RangeError);
    assert.throws(() => new ConnectionBudget({ max: 1.5, perClient: 0 }), RangeError);
  });
});

describe('the default budget and the refusal log', () => {
  it('is a quarter of the open-file limit, at most 16,384; 4096 when the limit cannot be read', () => {
    const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                20000                files\n`;
    assert.equal(defaultMaxConnections(limits('20000')), 5000);
    assert.equal(defaultMaxConnections(limits('1024')), 256);
    assert.equal(defaultMaxConnections(limits('1048576')), 16384, 'a service manager\'s million: the ceiling');
    assert.equal(defaultMaxConnections(limits('1')), 1);
    assert.equal(defaultMaxConnections(limits('unlimited')), 4096);
    assert.equal(defaultMaxConnections('nothing here'), 4096);
    assert.ok(defaultMaxConnections() >= 1, 'this process: read from /proc/self/limits');
  });

  it('logs the first refusal at once, then at most one line per interval with the counts of each limit since the last', () => {
    const lines: { o: { refusedTotal: number; refusedClient: number }; msg: string }[] = [];
    let t = 1_000_000;
    const log = refusalLog({ warn: (o, msg) => lines.push({ o: o as { refusedTotal: number; refusedClient: number }, msg }) }, 10_000, () => t);
    log('total', '10.0.0.1');
    for (let i = 0; i < 98; i++) log('total', '10.0.0.1');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.msg, /1 over --max-connections since/);
    t += 10_000;
    log('client', '10.0.0.2');
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[1]!.o, { refusedTotal: 98, refusedClient: 1, lastClient: '10.0.0.2' });
    assert.match(lines[1]!.msg, /98 over --max-connections, 1 over --max-connections-per-client since the last warning/);
  });

  it('a client is an IPv4 address (mapped or not) or an IPv6 /64', () => {
    assert.equal(clientOf('10.1.2.3'), '10.1.2.3');
    assert.equal(clientOf('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(clientOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(clientOf('2001:0db8:0001:0002:ffff::1'), '2001:db8:1:2::/64');
    assert.equal(clientOf('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientOf('2001:db8::9'), clientOf('2001:db8:0:0:7::9'), 'one /64');
    assert.notEqual(clientOf('2001:db8:0:1::1'), clientOf('2001:db8:0:2::1'));
    assert.equal(clientOf('::1'), '0:0:0:0::/64');
    assert.equal(clientOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientOf(''), '');
  });
});

describe('a worker under a connection flood', () => {
  let etcd: TestEtcd;
  let tree: MountTree;
  let worker: WorkerProcess;
  const flood: ReturnType<typeof open>[] = [];

  before(async () => {
    etcd = await startTestEtcd();
    tree = makeMountTree('conn-budget-');
    writeFileSync(join(tree.data, 'doc.txt'), 'served during the flood');
    const r = await cliFor(etcd.endpoint)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${tree.data}`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    worker = await startWorker(etcd.endpoint, { extraArgs: ['--max-connections', '100', '--max-connections-per-client', '12'] });
  });
  after(async () => {
    for (const f of flood) f.socket.destroy();
    await stopWorkers([worker]);
    await etcd?.destroy();
    if (tree) rmSync(tree.dir, { recursive: true, force: true });
  });

  it('with 300 open files allowed, 400 half-sent requests from 8 addresses leave it the descriptors to open a file and answer; each address gets its share', async () => {
    // The process may hold 300 descriptors; without the budget the flood took them all
    // (EMFILE for the file read below, and for its etcd connections).
    execFileSync('prlimit', ['--pid', String(worker.pid), '--nofile=300:300']);
    for (let a = 1; a <= 8; a++) {
      for (let i = 0; i < 50; i++) flood.push(open(worker.s3Port, `127.0.0.${10 + a}`, 'GET /data/doc.txt HTTP/1.1\r\nHost: x\r\n'));
    }
    // 12 admitted per address (--max-connections-per-client), 96 in all; the other 304 closed at accept
    await until('the flood beyond each address\'s share is closed at accept', () => flood.filter((f) => f.closed()).length >= 304, 60_000);
    // a connection made now (from another address) is admitted and served: a file opened, read, answered
    const mine = open(worker.restPort, '127.0.0.9');
    await mine.connected;
    const reply = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      mine.socket.on('data', (d: Buffer) => chunks.push(d));
      mine.socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      mine.socket.on('error', reject);
      mine.socket.write('GET /api/v1/file?uri=alluxio%3A%2F%2F%2Fdata%2Fdoc.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    assert.match(reply, /^HTTP\/1\.1 200 /, reply.slice(0, 300));
    assert.match(reply, /served during the flood$/);
    for (const f of flood) f.socket.destroy();
    const metrics = await until('the flood gone, the worker answers new connections', async () => {
      const r = await fetch(`${worker.restUrl}/metrics`);
      return r.status === 200 ? r.text() : undefined;
    });
    assert.equal(Number(/^alluxio_worker_connections_max (\d+)/m.exec(metrics)?.[1]), 100);
    assert.ok(Number(/^alluxio_worker_connections_refused_total\{limit="client"\} (\d+)/m.exec(metrics)?.[1]) >= 304, metrics.match(/^alluxio_worker_connections.*$/gm)?.join('\n'));
    const s3 = await fetch(`${worker.s3Url}/data/doc.txt`);
    assert.equal(await s3.text(), 'served during the flood');
    assert.match(worker.log(), /closing new connections at accept: \d+ over --max-connections-per-client/);
  });
});
