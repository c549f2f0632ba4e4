/**
 * A change is made only while its client still waits for the answer. A worker paused in the
 * middle of a request (SIGSTOP, a long pause of the process) would otherwise land, when it
 * resumes, a write or delete its client gave up on long before and retried on another
 * worker: after, and over, the client's newer writes (the p10-py probe: an older PUT
 * overwrote the newer one on an s3:// mount, 3 of 3 times). Checked right before the commit
 * (a write's rename or final PUT; a delete). Not for CompleteMultipartUpload (it assembles
 * the object first, silently, and may outlast its client's timeout); a commit that itself
 * stalls after the check is not covered.
 */
import type { IncomingMessage } from 'node:http';
import { AlluxioError } from '../../domain/errors.js';
import type { WriteOptions } from '../../ufs/types.js';

/** Requests whose arrived bytes the loop has taken in (requireWaitingClient). */
const drained = new WeakSet<IncomingMessage>();

/**
 * Cancelled when the client of `req` closed its connection (nothing is changed then). It
 * first lets the event loop take in what arrived: a paused worker finds the request's last
 * bytes and the client's close waiting together, but reads them in two turns of the loop
 * (libuv stops reading a socket after a read that did not fill its buffer), and a body's end
 * is handled, down to the commit, in the first. Two check phases have one poll phase
 * between them, where the close is read.
 */
export async function requireWaitingClient(req: IncomingMessage, what: string): Promise<void> {
  // Once per request: a DeleteObjects of 1,000 keys or a recursive delete checks before each
  // key, and after the first look the loop has taken in whatever arrived with the request.
  if (!drained.has(req)) {
    for (let turn = 0; turn < 2; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    drained.add(req);
  }
  const s = req.socket;
  // (a client that closes its side has gone: Node aborts such a request, whose answer
  // could not be sent anyway)
  if (!s || s.destroyed || s.readableEnded || !s.writable) {
    throw new AlluxioError('Cancelled', `${what}: the client closed its connection before the change was made; nothing was changed`);
  }
}

/** A write that commits only while its client waits (requireWaitingClient right before the commit). */
export function commitWhileClientWaits(req: IncomingMessage, what: string): WriteOptions {
  return {
    aroundCommit: async (commit) => {
      await requireWaitingClient(req, what);
      return commit();
    },
  };
}
