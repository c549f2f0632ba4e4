/**
 * A bare node:http server for bench/cache-warm.ts: every GET answered with the same 4 KiB
 * buffer and the headers a worker's S3 GET sends (request id, ETag, Last-Modified, ...),
 * nothing else: what Node's HTTP server alone costs per request. Port as argv[2].
 */
import { randomFillSync } from 'node:crypto';
import { createServer } from 'node:http';

const body = randomFillSync(Buffer.allocUnsafe(4096));
let n = 0;
createServer((_req, res) => {
  n = (n + 1) % 0x100000000;
  res.writeHead(200, [
    'x-amz-request-id', `0123ABCD${n.toString(16).toUpperCase().padStart(8, '0')}`,
    'ETag', '"0123456789abcdef0123456789abcdef"',
    'Last-Modified', 'Tue, 01 Dec 2026 00:00:00 GMT',
    'Accept-Ranges', 'bytes',
    'Content-Type', 'application/octet-stream',
    'Content-Length', 4096,
  ]);
  res.end(body);
}).listen(Number(process.argv[2]), '127.0.0.1');
process.on('disconnect', () => process.exit(0));
