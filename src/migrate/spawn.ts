/**
 * Starting the copier as a detached background process (`alluxio migrate run --id ID`),
 * with its log and pid file under the state directory:
 *
 *   $ALLUXIO_STATE_DIR (default ~/.alluxio)/migrations/<cluster>/<id>-<created>.log
 *   $ALLUXIO_STATE_DIR (default ~/.alluxio)/migrations/<cluster>/<id>-<created>.pid
 *
 * `<created>` is the migration's creation time (20261202T053400123Z): ids count per etcd
 * cluster, so two clusters of one name on a host (two local clusters, two etcds) both have
 * an m-1; their copiers shared one log and one pid file (the CLI probe of 2026-12-02). A
 * resumed migration writes on in its own.
 *
 * The connection settings travel in the environment (ALLUXIO_ETCD_*), never on the command
 * line, so a password does not show up in `ps`.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConnectionOptions } from '../store/connection.js';
import { cliEntry } from '../host/cli-entry.js';


export function stateDir(cluster: string, override?: string): string {
  const base = override || process.env.ALLUXIO_STATE_DIR || join(homedir(), '.alluxio');
  return resolve(base, 'migrations', cluster);
}

export interface SpawnedCopier {
  pid: number;
  log: string;
  pidFile: string;
}

/** The name of a migration's copier files: its id and creation time. */
export function copierFileName(id: string, createdAt: string | undefined): string {
  // (a record written by hand may lack its creation time: the id alone, as before)
  const tag = typeof createdAt === 'string' ? createdAt.replace(/[^0-9A-Za-z]/g, '') : '';
  return tag ? `${id}-${tag}` : id;
}

export function spawnCopier(id: string, createdAt: string | undefined, conn: ConnectionOptions, dir: string): SpawnedCopier {
  mkdirSync(dir, { recursive: true });
  const name = copierFileName(id, createdAt);
  const log = join(dir, `${name}.log`);
  const pidFile = join(dir, `${name}.pid`);
  const fd = openSync(log, 'a');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    ALLUXIO_ETCD_ENDPOINTS: conn.endpoints.join(','),
    ALLUXIO_CLUSTER: conn.cluster,
    ALLUXIO_ETCD_TIMEOUT: `${conn.timeoutMs ?? 5000}ms`,
  };
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined) env[k] = v;
    else delete env[k];
  };
  set('ALLUXIO_ETCD_USER', conn.user);
  set('ALLUXIO_ETCD_PASSWORD', conn.password);
  set('ALLUXIO_ETCD_CA', conn.ca ? resolve(conn.ca) : undefined);
  set('ALLUXIO_ETCD_CERT', conn.cert ? resolve(conn.cert) : undefined);
  set('ALLUXIO_ETCD_KEY', conn.key ? resolve(conn.key) : undefined);
  const child = spawn(process.execPath, [cliEntry(), 'migrate', 'run', '--id', id, '--log-file', log], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env,
  });
  closeSync(fd);
  child.unref();
  writeFileSync(pidFile, `${child.pid}\n`);
  return { pid: child.pid!, log, pidFile };
}

/** Is a process with this pid alive on this machine? */
export function pidAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
