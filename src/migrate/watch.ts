/**
 * Following a migration's progress (`migrate status --watch`, `migrate start --follow`):
 * polls the record and draws one progress line on a TTY (bar, bytes, files, rate, ETA);
 * in a pipe, prints a plain line when the state changes and at most every 5 s otherwise.
 */
import type { EtcdConnection } from '../store/connection.js';
import { progressLine, type MigrationRecord, type MigrationState } from './record.js';
import { getRecord } from './store.js';

export const MOVING: readonly MigrationState[] = ['copying', 'verifying'];

export async function followMigration(
  conn: EtcdConnection,
  id: string,
  opts: { tty: boolean; write: (s: string) => void; pollMs?: number; until?: (r: MigrationRecord) => boolean },
): Promise<MigrationRecord> {
  const until = opts.until ?? ((r: MigrationRecord) => !MOVING.includes(r.state));
  let lastState: string | undefined;
  let lastPrinted = 0;
  let drawn = false;
  for (;;) {
    const { record } = await getRecord(conn, id);
    const line = progressLine(record);
    if (opts.tty) {
      opts.write(`\r\x1b[2K${line}`);
      drawn = true;
    } else if (record.state !== lastState || Date.now() - lastPrinted >= 5000) {
      opts.write(line + '\n');
      lastPrinted = Date.now();
    }
    lastState = record.state;
    if (until(record)) {
      if (drawn) opts.write('\n');
      return record;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
}
