/**
 * The deadlines of the worker's listeners (src/host/listen.ts): 60 s for a request's headers,
 * none for a whole request (Node's default of 300 s cut uploads still streaming), and a
 * bound on a body's silences: an upload that stops is cut (it held a connection and a file
 * for good), one that keeps sending is not, and a kept-alive connection still closes when
 * idle after a request with a body. Real sockets on loopback; the body bound shortened to
 * 4 s through the listener's option (20 times the steady client's 200 ms pace).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { closeServer, HEADERS_TIMEOUT_MS, listen, portOf } from '../../src/host/listen.js';
import { until } from '../helpers/poll.js';

test('listen(): headers within 60 s, no deadline for the whole request', async () => {
  const srv = await listen((_req, res) => res.end(), { what: 'S3', flag: '--s3-port', host: '127.0.0.1', port: 0 });
  try {
    assert.equal(HEADERS_TIMEOUT_MS, 60_000);
    assert.equal(srv.headersTimeout, HEADERS_TIMEOUT_MS);
    assert.equal(srv.requestTimeout, 0, 'no deadline for a request body still streaming');
  } finally {
    await closeServer(srv);
  }
});

test('a body that stops is cut after the idle bound; one that keeps coming is read whole; the keep-alive timer still closes the idle connection after it', async () => {
  const bodies: string[] = [];
  const aborted: string[] = [];
  const srv = await listen(
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.end('ok');
      });
      req.on('aborted', () => aborted.push(String(req.url)));
    },
    { what: 'S3', flag: '--s3-port', host: '127.0.0.1', port: 0, bodyIdleMs: 4000 },
  );
  const port = portOf(srv);
  const sockets: Socket[] = [];
  const open = async (): Promise<{ s: Socket; closed: () => boolean; got: () => string }> => {
    const s = connect({ host: '127.0.0.1', port });
    sockets.push(s);
    let closed = false;
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('utf8')));
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    return { s, closed: () => closed, got: () => got };
  };
  try {
    // stalled: 1 byte of 10, then nothing
    const stalled = await open();
    stalled.s.write('PUT /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nx');
    await until('the stalled upload is cut', () => stalled.closed(), 30_000);
    assert.deepEqual(aborted, ['/stalled']);
    assert.deepEqual(bodies, []);
    // steady: a byte every 200 ms for 5 s (longer than the bound), never 4 s without one
    const steady = await open();
    const n = 25;
    steady.s.write(`PUT /steady HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\n\r\n`);
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, 200)); // (the client's pace, not a synchronisation)
      steady.s.write('y');
    }
    await until('the steady upload is answered', () => /\r\n\r\nok$/.test(steady.got()), 30_000);
    assert.deepEqual(bodies, ['y'.repeat(n)]);
    assert.equal(steady.closed(), false, 'kept alive after its answer');
    // the keep-alive timer (5 s) was not disarmed by the body's end: the idle connection closes
    await until('the idle kept-alive connection is closed', () => steady.closed(), 30_000);
  } finally {
    for (const s of sockets) s.destroy();
    await closeServer(srv);
  }
});
