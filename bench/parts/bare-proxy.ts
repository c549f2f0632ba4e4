/**
 * A bare proxy for the cache benches: node:http in, undici out (the worker's own HTTP
 * stacks), every GET forwarded as a plain GET of the same path to the UFS endpoint (argv[3])
 * and answered with the headers a worker's S3 GET sends; nothing else (no resolution, no
 * signing, no cache). A small body is collected and sent in one write, a large one streamed,
 * as the worker does. What one hop through a Node process costs on this machine: the floor
 * under a worker, with or without a cache. Port as argv[2].
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const SMALL = 64 * 1024;
const pool = new Pool(process.argv[3]!, { connections: 64 });
let n = 0;
createServer((req, res) => {
  n = (n + 1) % 0x100000000;
  pool
    .request({ method: 'GET', path: req.url! })
    .then(async (r) => {
      const length = Number(r.headers['content-length']);
      const head = [
        'x-amz-request-id', `0123ABCD${n.toString(16).toUpperCase().padStart(8, '0')}`,
        'ETag', String(r.headers.etag ?? '""'),
        'Last-Modified', String(r.headers['last-modified'] ?? ''),
        'Accept-Ranges', 'bytes',
        'Content-Type', 'application/octet-stream',
        'Content-Length', length,
      ];
      if (length > SMALL) {
        res.writeHead(r.statusCode, head);
        // (a body that fails mid-way cuts the answer, as a worker's would)
        r.body.on('error', () => res.destroy());
        r.body.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      for await (const c of r.body) chunks.push(c as Buffer);
      res.writeHead(r.statusCode, head);
      res.end(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    })
    .catch(() => {
      // no answer from the UFS, or its body failed before the head went out
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    });
}).listen(Number(process.argv[2]), '127.0.0.1');
process.on('disconnect', () => process.exit(0));
