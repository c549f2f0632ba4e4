/**
 * Sending a body that is not in memory yet (a stream, or a source that writes pages into the
 * response) with its status line and headers going out with its first bytes. A source that
 * fails before producing any (most often: the object is another version now, Conflict)
 * leaves the response unsent, so the front end can still answer it properly (serve the
 * current version, or an error) instead of cutting a connection whose status line promised
 * the old version. Once bytes went out, a failure can only cut the connection.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type LazyBody = Readable | ((dest: Writable) => Promise<void>);

/** `headers`: a flat [name, value, ...] list, as writeHead takes it. */
export async function sendLazyBody(res: ServerResponse, status: number, headers: readonly (string | number)[], body: LazyBody): Promise<void> {
  if (typeof body === 'function') {
    // Set, not written: Node sends them with the first write.
    res.statusCode = status;
    for (let i = 0; i < headers.length; i += 2) res.setHeader(String(headers[i]), headers[i + 1]!);
    try {
      await body(res);
    } catch (e) {
      if (!res.headersSent) for (let i = 0; i < headers.length; i += 2) res.removeHeader(String(headers[i]));
      throw e;
    }
    return;
  }
  // The first bytes (or the source's failure) before the status line; a client that goes
  // away meanwhile ends the wait, and the source with it.
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  res.once('close', onClose);
  try {
    await once(body, 'readable', { signal: gone.signal });
  } catch (e) {
    body.destroy();
    throw e;
  } finally {
    res.off('close', onClose);
  }
  res.writeHead(status, headers as (string | number)[]);
  await pipeline(body, res);
}
