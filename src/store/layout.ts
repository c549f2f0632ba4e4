/**
 * The etcd key layout of one cluster (documented in docs/etcd-layout.md).
 *
 *   /alluxio/<cluster>/schema-version        {"version":1}
 *   /alluxio/<cluster>/config/generation     {"generation":N,"updatedAt":...}  bumped by every config write
 *   /alluxio/<cluster>/config/mounts/<name>  MountEntry JSON
 *   /alluxio/<cluster>/config/rules/<id>     RuleSpec JSON
 *   /alluxio/<cluster>/workers/<id>          worker registration (leased)
 *   /alluxio/<cluster>/clients/<id>          FUSE daemon registration (leased, same record shape, kind "fuse")
 *   /alluxio/<cluster>/migrations/<id>       migration records
 *   /alluxio/<cluster>/migration-runners/<id> a migration copier's lock (leased)
 *   /alluxio/<cluster>/history/<generation>  one record per config change (same txn), the last N kept
 *   /alluxio/<cluster>/objects/etag/<sha256(uri)>  the S3 ETag declared for one version of a UFS object
 *                                         (multipart uploads: "<md5 of part md5s>-N")
 *
 * Workers watch only `config/`, so status keys never trigger reloads. Membership (workers/,
 * clients/) lives outside `config/`, so etcd roles can let a worker write its own record and
 * nothing of the config (src/store/auth-roles.ts).
 */
import { AlluxioError } from '../domain/errors.js';

export const SCHEMA_VERSION = 1;
const CLUSTER = /^[A-Za-z0-9][A-Za-z0-9._\-]{0,62}$/;

export class Layout {
  readonly root: string;
  readonly schemaKey: string;
  readonly configPrefix: string;
  readonly generationKey: string;
  readonly mountsPrefix: string;
  readonly rulesPrefix: string;
  readonly workersPrefix: string;
  readonly clientsPrefix: string;
  readonly migrationsPrefix: string;
  readonly migrationRunnersPrefix: string;
  readonly historyPrefix: string;
  readonly objectEtagsPrefix: string;

  constructor(readonly cluster: string) {
    if (!CLUSTER.test(cluster)) {
      throw new AlluxioError('InvalidArgument', `cluster name "${cluster}" is not allowed (letters, digits, ".", "_", "-"; at most 63)`);
    }
    this.root = `/alluxio/${cluster}/`;
    this.schemaKey = this.root + 'schema-version';
    this.configPrefix = this.root + 'config/';
    this.generationKey = this.configPrefix + 'generation';
    this.mountsPrefix = this.configPrefix + 'mounts/';
    this.rulesPrefix = this.configPrefix + 'rules/';
    this.workersPrefix = this.root + 'workers/';
    this.clientsPrefix = this.root + 'clients/';
    this.migrationsPrefix = this.root + 'migrations/';
    this.migrationRunnersPrefix = this.root + 'migration-runners/';
    this.historyPrefix = this.root + 'history/';
    this.objectEtagsPrefix = this.root + 'objects/etag/';
  }

  mountKey(path: string): string {
    return this.mountsPrefix + encodeURIComponent(path.slice(1));
  }
  ruleKey(id: string): string {
    return this.rulesPrefix + encodeURIComponent(id);
  }
  workerKey(id: string): string {
    return this.workersPrefix + encodeURIComponent(id);
  }
  clientKey(id: string): string {
    return this.clientsPrefix + encodeURIComponent(id);
  }
  migrationKey(id: string): string {
    return this.migrationsPrefix + encodeURIComponent(id);
  }
  /** History keys sort by generation (zero-padded), so a range delete trims the oldest. */
  historyKey(generation: number): string {
    return this.historyPrefix + String(generation).padStart(12, '0');
  }
  /** Mounts and rules: what history records and `diff`/`revert` compare (not the generation). */
  isConfigEntryKey(key: string): boolean {
    return key.startsWith(this.mountsPrefix) || key.startsWith(this.rulesPrefix);
  }
  migrationRunnerKey(id: string): string {
    return this.migrationRunnersPrefix + encodeURIComponent(id);
  }
}
