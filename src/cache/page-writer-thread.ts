/**
 * The page writer's thread (src/cache/page-writer.ts is the side the store talks to): it
 * runs the store's file operations in the order they were asked for, each with synchronous
 * calls (blocking here blocks no request), and answers each message with the last sequence
 * number done and the writes that failed.
 *
 *   write    take a spare file for the path if there is one (a rename: no inode to
 *            allocate, spare-files.ts), then open, write the whole buffer, close. A failure
 *            (a full disk, an I/O error) removes what was written: a page file is either
 *            whole or absent, as far as this thread can tell (a crash midway leaves a short
 *            file, which the store's length and CRC checks refuse).
 *   drop     recycle the file as a spare, or delete it (spare-files.ts); a file that
 *            cannot be removed is named in the answer (the writer asks again later).
 *   barrier  nothing: answered like the others, so a caller can wait for what came before.
 *
 * At start it removes the files it was given to clean up (what a thread before it left
 * unanswered), then says it is ready.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { PageFileOp, PageFileReply, PageWriterThreadData } from './page-writer.js';
import { SpareFiles } from './spare-files.js';

const { spareDir, maxSpares, cleanup } = workerData as PageWriterThreadData;
const spares = SpareFiles.open(spareDir, maxSpares);

/** Remove the file at `path`; the error when it stays (a read-only or failing disk). */
function drop(path: string): string | undefined {
  try {
    spares.give(path);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

// What a thread before this one may have left (writes it did not answer, drops it may not
// have done), before any operation: the index names none of these files. (One that cannot
// be removed now is found by the next start's scan.)
for (const path of cleanup) drop(path);
parentPort!.postMessage({ ready: true } satisfies PageFileReply);

function writeWhole(path: string, data: Uint8Array): void {
  spares.take(path);
  const fd = openSync(path, 'w');
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
}

parentPort!.on('message', (ops: PageFileOp[]) => {
  const reply = { upTo: 0, errors: [] as [number, string][], dropErrors: [] as [number, string, string][] } satisfies PageFileReply;
  for (const op of ops) {
    if (op.kind === 'write') {
      try {
        writeWhole(op.path, op.data);
      } catch (e) {
        reply.errors.push([op.seq, (e as Error).message]);
        try {
          rmSync(op.path, { force: true });
        } catch {
          // nothing more to do: the store does not index a page whose write failed
        }
      }
    } else if (op.kind === 'drop') {
      const failed = drop(op.path);
      if (failed !== undefined) reply.dropErrors.push([op.seq, op.path, failed]);
    }
    reply.upTo = op.seq;
  }
  parentPort!.postMessage(reply);
});
