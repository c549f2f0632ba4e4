/**
 * The membership record: the JSON value of one leased key per live member, written by the
 * host processes (src/host/membership.ts) and read by the cluster queries
 * (./members.ts, ./convergence.ts). Workers live under /alluxio/<cluster>/workers/<id>
 * (kind "worker"), FUSE daemons under /alluxio/<cluster>/clients/<id> (kind "fuse", no
 * S3/REST ports). The format is the contract between the two sides, so it lives here,
 * below both.
 *
 * TLS (added later; every field optional, so older readers and older records still work):
 *   - `s3Port`/`restPort` speak `scheme` (absent = "http", as in every older record);
 *     a worker started with --tls-only writes scheme "https" and its HTTPS ports there.
 *   - `s3TlsPort`/`restTlsPort` are present whenever the worker serves HTTPS (alongside
 *     plain HTTP, or the same ports as s3Port/restPort with --tls-only).
 *   - `tlsClientAuth`: the HTTPS ports require a client certificate (mutual TLS).
 * A client that wants HTTPS connects to restTlsPort; one that wants HTTP connects to
 * restPort unless scheme is "https". The worker's NAME for placement stays
 * `host:restPort` whatever the client connects to, so HTTP and HTTPS clients agree on
 * which worker serves a path.
 */

/** Version written into membership records (workers and FUSE daemons). */
export const MEMBER_VERSION = '0.1.0';

export type MemberKind = 'worker' | 'fuse';

/** What every member writes (a FUSE daemon writes only this, plus its mount point). */
export interface MemberRecord {
  id: string;
  /** Absent in records of older workers: read as 'worker'. */
  kind?: MemberKind;
  host: string;
  s3Port?: number;
  restPort?: number;
  /** The scheme of s3Port/restPort; absent = 'http'. */
  scheme?: 'http' | 'https';
  /** HTTPS ports; absent = the worker serves no HTTPS. */
  s3TlsPort?: number;
  restTlsPort?: number;
  /** The HTTPS ports require a client certificate. */
  tlsClientAuth?: boolean;
  /** A FUSE daemon's mount point. */
  mountpoint?: string;
  startedAt: string;
  version: string;
  appliedRevision: number;
  pid: number;
  /**
   * The machine's host name and PID namespace ("<hostname> pid:[<inode>]"): with `pid`, lets
   * a member restarted on the same machine take over its id from a record whose process is
   * gone (its lease could not be revoked: etcd had no quorum when it stopped). Absent in
   * records before 2026-12-02.
   */
  machine?: string;
  /** Informer watch state (watching, reconnecting, ...). */
  watchState?: string;
  /** When this record was last written. */
  updatedAt?: string;
}

/** Where a worker answers, as listed (worker list, /api/v1/status): the record's ports resolved. */
export interface WorkerEndpoints {
  host: string;
  /** The ports as the membership record advertises them. */
  s3Port: number;
  restPort: number;
  /** Scheme of s3Port/restPort ('http' for records without one). */
  scheme: 'http' | 'https';
  /** HTTPS ports, null when the worker serves no HTTPS. */
  s3TlsPort: number | null;
  restTlsPort: number | null;
  tlsClientAuth: boolean;
}

export interface WorkerRecord extends MemberRecord {
  kind?: 'worker';
  s3Port: number;
  restPort: number;
  /**
   * The worker holds a page cache (--cache-dir) and so takes part in file ownership
   * (docs/cluster-cache.md). Absent in older records and on workers without a cache.
   */
  cache?: boolean;
}

/** A worker's endpoints as a record advertises them (defaults for older records). */
export function endpointsOf(r: Partial<MemberRecord>): WorkerEndpoints {
  return {
    host: String(r.host),
    s3Port: Number(r.s3Port ?? 0),
    restPort: Number(r.restPort ?? 0),
    scheme: r.scheme === 'https' ? 'https' : 'http',
    s3TlsPort: typeof r.s3TlsPort === 'number' ? r.s3TlsPort : null,
    restTlsPort: typeof r.restTlsPort === 'number' ? r.restTlsPort : null,
    tlsClientAuth: r.tlsClientAuth === true,
  };
}

/**
 * A worker's name for placement: "<host>:<restPort>" ("[<v6>]:<port>" for an IPv6 literal),
 * with restPort as advertised whatever scheme a client then connects with.
 */
export function placementName(host: string, restPort: number): string {
  return host.includes(':') ? `[${host}]:${restPort}` : `${host}:${restPort}`;
}
