/**
 * The key-value operations the CLI needs (a range, a guarded transaction), served through
 * etcd's JSON gateway (gateway.ts) so that a command never loads the grpc client, or
 * through the grpc client when an endpoint has no gateway (then for the rest of the
 * connection's life). Long-lived processes use the grpc client directly for watches and
 * for granting leases; they renew leases here (kvLeaseKeepAlive), where each renewal fails
 * over from a hung member to the next.
 */
import type { EtcdConnection } from './connection.js';
import { gatewayLeaseKeepAlive, gatewayRange, gatewayTxn, GatewayUnsupported } from './gateway.js';

export interface RangeKv {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
}

export interface RangeRequest {
  key: string;
  /** Every key starting with `key`. */
  prefix?: boolean;
  /** Keys in [key, rangeEnd) (ignored with `prefix`). */
  rangeEnd?: string;
  /** Read at this revision (0 or absent: the latest). */
  revision?: number;
  limit?: number;
  /** Sorted by mod revision, newest first. */
  newestFirst?: boolean;
}

export interface RangeResult {
  revision: number;
  kvs: RangeKv[];
}

/** A compare of a transaction: the key's mod revision (0: absent) or its value. */
export type TxnCompare = { key: string; modRevision: number } | { key: string; value: string };

export type TxnOp = { type: 'put'; key: string; value: string } | { type: 'delete'; key: string } | { type: 'deleteRange'; start: string; end: string };

export interface TxnRequest {
  compare: TxnCompare[];
  success: TxnOp[];
}

export interface TxnResult {
  succeeded: boolean;
  /** The etcd revision after the transaction (of the write when it succeeded). */
  revision: number;
}

const noGateway = new WeakSet<EtcdConnection>();

async function either<T>(conn: EtcdConnection, viaGateway: () => Promise<T>, viaGrpc: () => Promise<T>): Promise<T> {
  if (!noGateway.has(conn)) {
    try {
      return await viaGateway();
    } catch (e) {
      if (!(e instanceof GatewayUnsupported)) throw e;
      noGateway.add(conn);
      // Kept for the error a failing grpc call gets: an endpoint that answers HTTP but not
      // as etcd (a worker's port by mistake) would otherwise read as "etcd overloaded".
      conn.gatewayRefusal = e.message;
    }
  }
  return viaGrpc();
}

export function kvRange(conn: EtcdConnection, what: string, req: RangeRequest): Promise<RangeResult> {
  return either(
    conn,
    () => gatewayRange(conn, what, req),
    async () => {
      const res = await conn.call(what, (c) => {
        let q = req.prefix ? c.getAll().prefix(req.key) : req.rangeEnd !== undefined ? c.getAll().inRange({ start: req.key, end: req.rangeEnd }) : c.getAll().inRange({ start: req.key, end: `${req.key}\0` });
        if (req.revision) q = q.revision(String(req.revision));
        if (req.limit) q = q.limit(req.limit);
        if (req.newestFirst) q = q.sort('Mod', 'Descend');
        return q.exec();
      });
      return {
        revision: Number(res.header.revision),
        kvs: res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision), createRevision: Number(kv.create_revision) })),
      };
    },
  );
}

/** The value of one key (null: absent) and the revision it was read at. */
export async function kvGet(conn: EtcdConnection, what: string, key: string, revision?: number): Promise<{ revision: number; kv: RangeKv | null }> {
  const res = await kvRange(conn, what, { key, ...(revision ? { revision } : {}) });
  return { revision: res.revision, kv: res.kvs.find((kv) => kv.key === key) ?? null };
}

export function kvTxn(conn: EtcdConnection, what: string, txn: TxnRequest): Promise<TxnResult> {
  if (txn.success.length > 0) conn.commitsSent++;
  return either(
    conn,
    () => gatewayTxn(conn, what, txn),
    async () => {
      const res = await conn.call(what, (c) => {
        const [first, ...rest] = txn.compare;
        const cmp = (b: ReturnType<typeof c.if>, x: TxnCompare) => ('modRevision' in x ? b.and(x.key, 'Mod', '==', x.modRevision) : b.and(x.key, 'Value', '==', x.value));
        let b = first ? ('modRevision' in first ? c.if(first.key, 'Mod', '==', first.modRevision) : c.if(first.key, 'Value', '==', first.value)) : c.if('\0', 'Mod', '>', -1);
        for (const x of rest) b = cmp(b, x);
        const ops = txn.success.map((op) => (op.type === 'put' ? c.put(op.key).value(op.value) : op.type === 'delete' ? c.delete().key(op.key) : c.delete().inRange({ start: op.start, end: op.end })));
        return b.then(...ops).commit();
      });
      return { succeeded: res.succeeded, revision: Number(res.header.revision) };
    },
  );
}

/**
 * Renew a lease once: its remaining TTL in seconds (0: expired or revoked). A member that does
 * not answer within `attemptMs` is left for the next one. `viaGrpc` renews it through the
 * grpc client, for endpoints without a JSON gateway.
 */
export function kvLeaseKeepAlive(conn: EtcdConnection, what: string, id: string, attemptMs: number, viaGrpc: () => Promise<number>): Promise<number> {
  return either(conn, () => gatewayLeaseKeepAlive(conn, what, id, attemptMs), () => conn.call(what, viaGrpc));
}
