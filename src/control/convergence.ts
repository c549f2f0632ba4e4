/**
 * `--wait`: after a commit, wait until every live worker applies a revision >= the commit.
 * CONTRACT: waitForConvergence(conn, revision, { timeoutMs, onProgress }) resolves with the
 * outcome or throws AlluxioError('WaitTimeout') naming the laggards. Implemented by the
 * worker-runtime work (membership keys under /alluxio/<cluster>/workers/).
 */
import type { EtcdConnection } from '../store/connection.js';

export interface WaitProgress {
  applied: number;
  total: number;
  laggards: string[];
}

export interface WaitOutcome {
  revision: number;
  workers: number;
  elapsedMs: number;
}

export async function waitForConvergence(
  _conn: EtcdConnection,
  revision: number,
  _opts: { timeoutMs: number; onProgress?: (p: WaitProgress) => void },
): Promise<WaitOutcome> {
  return { revision, workers: 0, elapsedMs: 0 };
}
