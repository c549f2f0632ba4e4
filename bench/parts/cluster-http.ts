/**
 * HTTP pieces of the cluster benchmark (bench/cluster.ts): plain keep-alive GETs that count bytes and can follow one 307 (what a redirect-aware S3
 * client does), a round-robin load of many GETs at a fixed concurrency, and the workers'
 * metrics and ring. A helper module: running it does nothing.
 */
import { Agent, request } from 'node:http';
import type { WorkerProcess } from '../../test/helpers/worker.js';

/** PUT one object into s3rver (unsigned: s3rver accepts it). */
export async function putObject(base: string, bucket: string, key: string, body: Buffer): Promise<void> {
  const r = await fetch(`${base}/${bucket}/${key}`, { method: 'PUT', body });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`PUT ${key}: HTTP ${r.status}`);
}

/** One GET's outcome: wall time, and how many 307s were followed. */
export interface GetResult {
  ms: number;
  redirects: number;
}

/**
 * GET `url` with `agent`, drain the body, check status 200 and `size` bytes. With
 * `follow`, a 307 is followed once to its Location (same agent, so keep-alive to the owner);
 * without it, a 307 is an error (a proxying worker must never answer one).
 */
export function getOnce(url: string, agent: Agent, size: number, follow = false): Promise<GetResult> {
  const t0 = process.hrtime.bigint();
  const go = (u: string, redirects: number): Promise<GetResult> =>
    new Promise<GetResult>((resolve, reject) => {
      const req = request(u, { agent }, (res) => {
        if (res.statusCode === 307 && follow && redirects === 0 && res.headers.location) {
          res.resume();
          res.on('end', () => go(new URL(res.headers.location!, u).toString(), redirects + 1).then(resolve, reject));
          return;
        }
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () =>
          res.statusCode === 200 && n === size
            ? resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, redirects })
            : reject(new Error(`GET ${u}: HTTP ${res.statusCode}, ${n} bytes (expected 200, ${size})`)),
        );
        res.on('error', (e) => reject(new Error(`GET ${u}: ${e.message}`)));
      });
      req.on('error', (e) => reject(new Error(`GET ${u}: ${e.message}`)));
      req.end();
    });
  return go(url, 0);
}

/**
 * GET every URL of `urls` once, `concurrency` at a time, over one keep-alive agent;
 * seconds taken. Every answer is checked (200, `size` bytes).
 */
export async function getAll(urls: readonly string[], size: number, concurrency: number, follow = false): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let i = 0;
  const t0 = process.hrtime.bigint();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (i < urls.length) await getOnce(urls[i++]!, agent, size, follow);
      }),
    );
  } finally {
    agent.destroy();
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** The alluxio_cache_* and alluxio_ufs_* counters of one worker. */
export async function metrics(w: WorkerProcess): Promise<Record<string, number>> {
  let text = '';
  // a pooled keep-alive connection the worker closed while idle fails once: ask again
  for (let attempt = 1; ; attempt++) {
    try {
      text = await (await fetch(`${w.restUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      break;
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause?.message;
      if (attempt >= 3) throw new Error(`metrics of worker ${w.id}: ${(e as Error).message}${cause ? ` (${cause})` : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(alluxio_(?:cache|ufs)_\w+) (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The sum of one counter over workers. */
export async function sumMetric(ws: readonly WorkerProcess[], name: string): Promise<number> {
  let n = 0;
  for (const w of ws) n += (await metrics(w))[name] ?? 0;
  return n;
}

/** A worker's ring member name (docs/cluster-cache.md): "<host>:<restPort>". */
export const ringName = (w: WorkerProcess): string => `127.0.0.1:${w.restPort}`;

/** Names on the ring as `w` sees it (/api/v1/status ring.members[].name). */
export async function ringOf(w: WorkerProcess): Promise<string[]> {
  const st = (await w.status()) as { ring?: { members?: { name: string }[] } | null };
  return (st.ring?.members ?? []).map((m) => m.name).sort();
}

/** Poll until every worker of `ws` sees exactly `ws` on its ring. */
export async function waitRing(ws: readonly WorkerProcess[], timeoutMs = 60_000): Promise<string[]> {
  const want = ws.map(ringName).sort();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = true;
    for (const w of ws) {
      const got = await ringOf(w).catch(() => []);
      if (got.join() !== want.join()) ok = false;
    }
    if (ok) return want;
    if (Date.now() > deadline) throw new Error(`ring did not converge to ${want.join(', ')} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
