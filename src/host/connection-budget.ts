/**
 * The worker's budget of client connections, shared by all its listeners (S3 and REST, HTTP
 * and HTTPS). A connection over the budget is closed as it is accepted, before a byte of it
 * is read: one client opening connections must not take the file descriptors the worker
 * needs for etcd, its UFSes and its cache. (Without a budget, 20,000 connections each
 * holding half a request exhausted the worker's open-file limit: S3, REST and health checks
 * failed, and its lease renewals to etcd failed with EMFILE, so it left the cluster's ring.)
 *
 * Two limits: all connections together (default: a quarter of the process's open-file
 * limit, at most 16,384: a connection may hold two or three descriptors, its socket, a
 * temporary file or staged part, an upload to the UFS) and the connections of one client
 * (the worker's default: half of the first, so that one client cannot take them all; 0: no
 * such limit). A client is its IPv4 address, or its IPv6 address's /64 (one host has a whole
 * /64 to pick from); clients behind one proxy or NAT are one client.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Client connections open at once, all listeners together. */
  max: number;
  /** Client connections open at once from one client (clientOf: an IPv4 address or an IPv6 /64); 0: no such limit. */
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
    const client = clientOf(socket.remoteAddress ?? '');
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

/** The share of the open-file limit the default budget gives client connections. */
const CONNECTION_SHARE = 0.25;
/** The default budget's ceiling: service managers and containers set limits of a million. */
const DEFAULT_MAX_CEILING = 16_384;

/**
 * The default budget: a quarter of the process's open-file limit (as /proc/self/limits says
 * it: the soft limit, which Node raises to the hard limit at start), at most 16,384; the
 * rest is for what those connections open (temporary files, staged parts, UFS uploads) and
 * for the worker's own etcd and UFS connections, page files and cache writers. `limitsText`
 * is /proc/self/limits (read when absent); where that says nothing usable, 4096.
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
  return Math.max(1, Math.min(DEFAULT_MAX_CEILING, Math.floor(soft * CONNECTION_SHARE)));
}

/**
 * The client a connection counts against: an IPv4 address (also written as IPv4-mapped IPv6),
 * or an IPv6 address's first 64 bits.
 */
export function clientOf(address: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (v4) return v4[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('%')[0]!.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * The worker's refusal log: the first refusal at once, then at most one warning per
 * `intervalMs` with the counts of each limit since the last (a flood must not flood the log too).
 */
export function refusalLog(log: { warn(obj: object, msg: string): void }, intervalMs = 10_000, now: () => number = Date.now): (why: Refusal, client: string) => void {
  let last = -Infinity;
  const since: Record<Refusal, number> = { total: 0, client: 0 };
  return (why, client) => {
    since[why]++;
    const t = now();
    if (t - last < intervalMs) return;
    last = t;
    const parts = [
      ...(since.total > 0 ? [`${since.total} over --max-connections`] : []),
      ...(since.client > 0 ? [`${since.client} over --max-connections-per-client`] : []),
    ];
    log.warn({ refusedTotal: since.total, refusedClient: since.client, lastClient: client }, `closing new connections at accept: ${parts.join(', ')} since the last warning (alluxio_worker_connections_refused_total)`);
    since.total = 0;
    since.client = 0;
  };
}
