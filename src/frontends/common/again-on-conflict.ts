/**
 * A read, or a copy, whose source changed under it: the worker's metadata was of an older
 * version than the UFS holds now (another writer, within the metadata TTL), the source
 * refused that version (Conflict) and the metadata is dropped by then. Run once more, the
 * second time (`again`) on the current version, while nothing reached the client: a GET
 * serves it, a copy copies it, instead of failing a request the client would only repeat.
 */
import type { ServerResponse } from 'node:http';
import { isAlluxioError } from '../../domain/errors.js';

export async function againOnConflict<T>(f: (again: boolean) => Promise<T>, o: { res?: ServerResponse; changed?: (e: unknown) => boolean } = {}): Promise<T> {
  const changed = o.changed ?? ((e: unknown) => isAlluxioError(e) && e.code === 'Conflict');
  try {
    return await f(false);
  } catch (e) {
    if (!changed(e) || o.res?.headersSent === true) throw e;
    return f(true);
  }
}
