/**
 * GET a local worker's REST endpoint (/readyz, /api/v1/status) over HTTP or HTTPS; for
 * HTTPS the certificate is verified against the local cluster's CA (never switched off).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

export interface WorkerAnswer {
  status: number;
  body: string;
  json(): unknown;
}

export function getWorker(url: string, caFile: string | undefined, timeoutMs: number): Promise<WorkerAnswer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const opts = { method: 'GET', timeout: timeoutMs, ...(u.protocol === 'https:' && caFile ? { ca: readFileSync(caFile) } : {}) };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) as unknown }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
