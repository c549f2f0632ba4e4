/**
 * A bare proxy for bench/cache-cold.ts: node:http in, undici out (the worker's own HTTP
 * stacks), every GET forwarded as a plain GET of the same path to the UFS endpoint (argv[3])
 * and its body answered with the headers a worker's S3 GET sends; nothing else (no
 * resolution, no signing, no cache). What one hop through a Node process costs on this
 * machine: the floor under "a worker without a cache". Port as argv[2].
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.argv[3]!, { connections: 64 });
let n = 0;
createServer((req, res) => {
  n = (n + 1) % 0x100000000;
  pool.request({ method: 'GET', path: req.url! }).then(
    async (r) => {
      const chunks: Buffer[] = [];
      for await (const c of r.body) chunks.push(c as Buffer);
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      res.writeHead(r.statusCode, [
        'x-amz-request-id', `0123ABCD${n.toString(16).toUpperCase().padStart(8, '0')}`,
        'ETag', String(r.headers.etag ?? '""'),
        'Last-Modified', String(r.headers['last-modified'] ?? ''),
        'Accept-Ranges', 'bytes',
        'Content-Type', 'application/octet-stream',
        'Content-Length', body.length,
      ]);
      res.end(body);
    },
    () => {
      res.writeHead(502).end();
    },
  );
}).listen(Number(process.argv[2]), '127.0.0.1');
process.on('disconnect', () => process.exit(0));
