/**
 * The membership record: the JSON value of one leased key per live member, written by the
 * host processes (src/host/membership.ts) and read by the cluster queries
 * (./members.ts, ./convergence.ts). Workers live under /alluxio/<cluster>/workers/<id>
 * (kind "worker"), FUSE daemons under /alluxio/<cluster>/clients/<id> (kind "fuse", no
 * S3/REST ports). The format is the contract between the two sides, so it lives here,
 * below both.
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
  /** A FUSE daemon's mount point. */
  mountpoint?: string;
  startedAt: string;
  version: string;
  appliedRevision: number;
  pid: number;
  /** Informer watch state (watching, reconnecting, ...). */
  watchState?: string;
  /** When this record was last written. */
  updatedAt?: string;
}

export interface WorkerRecord extends MemberRecord {
  kind?: 'worker';
  s3Port: number;
  restPort: number;
}
