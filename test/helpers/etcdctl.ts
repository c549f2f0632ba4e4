import { spawnSync } from 'node:child_process';

/** Run the real etcdctl (API v3) against a test etcd; throws with its stderr on failure. */
export function etcdctl(endpoint: string, ...args: string[]): string {
  const r = spawnSync('etcdctl', ['--endpoints', endpoint, ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
  if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
