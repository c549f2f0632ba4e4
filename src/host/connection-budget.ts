/**
 * The worker's budget of client connections, shared by all its listeners (S3 and REST, HTTP
 * and HTTPS). A connection over the budget is closed as it is accepted, before a byte of it
 * is read: one client opening connections must not take the file descriptors the worker
 * needs for etcd, its UFSes and its cache. (Without a budget, 20,000 connections each
 * holding half a request exhausted the worker's open-file limit: S3, REST and health checks
 * failed, and its lease renewals to etcd failed with EMFILE, so it left the cluster's ring.)
 *
 * Two limits: all connections together (default: three quarters of the process's open-file
 * limit) and the connections of one client address (the worker's default: half of the
 * first, so that one client cannot take them all; 0: no such limit).
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Client connections open at once, all listeners together. */
  max: number;
  /** Client connections open at once from one remote address; 0: no such limit. */
  perClient: number;
}

/** Which limit refused a connection. */
export type Refusal = 'total' | 'client';

export class ConnectionBudget {
  private open = 0;
  private readonly byClient = new Map<string, number>();
  private readonly refused: Record<Refusal, number> = { total: 0, client: 0 };

  constructor(
    readonly limits: ConnectionLimits,
    /** Told of every refusal (the worker logs them, at most one line per interval). */
    private readonly onRefuse: (why: Refusal, client: string) => void = () => undefined,
  ) {
    if (!Number.isSafeInteger(limits.max) || limits.max < 1) throw new RangeError(`max connections must be a positive integer (got ${limits.max})`);
    if (!Number.isSafeInteger(limits.perClient) || limits.perClient < 0) throw new RangeError(`max connections per client must be 0 or more (got ${limits.perClient})`);
  }

  /** Connections holding a slot now. */
  get openCount(): number {
    return this.open;
  }

  /** Connections refused since start, by the limit that refused them. */
  refusedCount(why: Refusal): number {
    return this.refused[why];
  }

  /** Give `socket` a slot until it closes, or close it now. Returns whether it was admitted. */
  admit(socket: Socket): boolean {
    const client = socket.remoteAddress ?? '';
    const mine = this.byClient.get(client) ?? 0;
    const why: Refusal | undefined = this.open >= this.limits.max ? 'total' : this.limits.perClient > 0 && mine >= this.limits.perClient ? 'client' : undefined;
    if (why) {
      this.refused[why]++;
      socket.destroy();
      this.onRefuse(why, client);
      return false;
    }
    this.open++;
    if (this.limits.perClient > 0) this.byClient.set(client, mine + 1);
    socket.once('close', () => {
      this.open--;
      if (this.limits.perClient > 0) {
        const n = (this.byClient.get(client) ?? 1) - 1;
        if (n > 0) this.byClient.set(client, n);
        else this.byClient.delete(client);
      }
    });
    return true;
  }
}

/** What the worker keeps for itself when it derives the budget: a quarter of the open-file limit. */
const RESERVED_SHARE = 0.25;

/**
 * The default budget: three quarters of the process's open-file limit (its soft limit, which
 * Node raises to the hard limit at start), the rest kept for etcd, UFS connections, page
 * files and the cache's writers. `limitsText` is /proc/self/limits (read when absent); where
 * that says nothing usable, 4096.
 */
export function defaultMaxConnections(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return 4096;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  const soft = m ? Number(m[1]) : NaN; // ("unlimited" is NaN)
  if (!Number.isFinite(soft) || soft < 1) return 4096;
  return Math.max(1, Math.floor(soft * (1 - RESERVED_SHARE)));
}

/**
 * The worker's refusal log: the first refusal at once, then at most one warning per
 * `intervalMs` with the count since the last (a flood must not flood the log too).
 */
export function refusalLog(log: { warn(obj: object, msg: string): void }, intervalMs = 10_000, now: () => number = Date.now): (why: Refusal, client: string) => void {
  let last = -Infinity;
  let since = 0;
  return (why, client) => {
    since++;
    const t = now();
    if (t - last < intervalMs) return;
    last = t;
    const limit = why === 'total' ? '--max-connections' : '--max-connections-per-client';
    log.warn({ refused: since, limit, client }, `closing new connections at accept: ${limit} reached (${since} refused since the last warning; alluxio_worker_connections_refused_total)`);
    since = 0;
  };
}
