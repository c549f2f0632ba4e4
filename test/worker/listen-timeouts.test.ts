/**
 * The deadlines of the worker's listeners (src/host/listen.ts): 60 s for a request's
 * headers, none for its body. Node's default of 300 s for the whole request cut uploads
 * still streaming (a 5 GiB PUT at 10 MB/s takes 500 s); a body that stops is bounded by the
 * connection budget instead. Checked on the server listen() returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, HEADERS_TIMEOUT_MS, listen } from '../../src/host/listen.js';

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
