/**
 * A real etcd per test file, on free loopback ports, with a temporary data dir that is
 * removed afterwards. Always stopped, also when the test fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlluxioError } from '../../src/domain/errors.js';
import { freePort, lastLine, startEtcdServer, waitForEtcdHealth, type EtcdServer } from '../../src/local/etcd-server.js';
import { after, before } from 'node:test';
import { until } from './poll.js';

export interface TestEtcd extends EtcdServer {
  dir: string;
  /** Stop and delete everything. */
  destroy(): Promise<void>;
  /** Restart on the same ports and data (for outage tests). */
  restart(): Promise<TestEtcd>;
}

export async function startTestEtcd(opts: { clientPort?: number; peerPort?: number; dir?: string; extraArgs?: string[]; maxTxnOps?: number } = {}): Promise<TestEtcd> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'alluxio-test-etcd-'));
  let srv: EtcdServer;
  try {
    srv = await startEtcdServer({
      dataDir: join(dir, 'data'),
      logFile: join(dir, 'etcd.log'),
      ...(opts.clientPort ? { clientPort: opts.clientPort } : {}),
      ...(opts.peerPort ? { peerPort: opts.peerPort } : {}),
      ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
      // --max-txn-ops: 10000 unless a test asks for another value (e.g. etcd's default 128).
      ...(opts.maxTxnOps ? { maxTxnOps: opts.maxTxnOps } : {}),
    });
  } catch (e) {
    if (!opts.dir) rmSync(dir, { recursive: true, force: true }); // (nothing of it is left to stop)
    throw e;
  }
  const self: TestEtcd = {
    ...srv,
    dir,
    async destroy() {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await srv.stop();
      return startTestEtcd({ clientPort: srv.clientPort, peerPort: srv.peerPort, dir, ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}), ...(opts.maxTxnOps ? { maxTxnOps: opts.maxTxnOps } : {}) });
    },
  };
  return self;
}

/** One member of a test cluster. `server` is undefined while the member is stopped. */
/**
 * A real etcd for the enclosing describe (or file): started in its `before`, destroyed in
 * its `after`. Returns a getter (the server exists once `before` ran).
 */
export function etcdForSuite(): () => TestEtcd {
  let etcd: TestEtcd | undefined;
  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    await etcd?.destroy();
  });
  return () => etcd!;
}

export interface ClusterMember {
  name: string;
  endpoint: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  server: EtcdServer | undefined;
}

export interface TestEtcdCluster {
  dir: string;
  members: ClusterMember[];
  /** All client endpoints, comma-separated (ALLUXIO_ETCD_ENDPOINTS). */
  endpoints: string;
  /** The member the live members agree is leader (polls until there is one). */
  leader(timeoutMs?: number): Promise<ClusterMember>;
  /** kill -9 (default) or SIGTERM one member, and wait until the process is gone. */
  stop(m: ClusterMember, signal?: NodeJS.Signals): Promise<void>;
  /** Start a stopped member again on its ports and data (it rejoins). */
  start(m: ClusterMember): Promise<void>;
  destroy(): Promise<void>;
}

/** etcd's status of one member through its JSON gateway: its id and the leader it knows. */
export async function memberStatus(endpoint: string): Promise<{ memberId: string; leader: string }> {
  const res = await fetch(`${endpoint}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
  const doc = (await res.json()) as { header?: { member_id?: string }; leader?: string };
  return { memberId: String(doc.header?.member_id ?? ''), leader: String(doc.leader ?? '0') };
}

/**
 * A real n-member etcd cluster (Debian's etcd-server) on free loopback client and peer
 * ports, in a temporary dir removed by destroy(). Members can be killed and restarted.
 */
export async function startTestEtcdCluster(opts: { size?: number; extraArgs?: string[] } = {}): Promise<TestEtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(opts);
    } catch (e) {
      // Ports picked free can be taken before a member binds them (another test's connection,
      // CI 2026-12-03): the member exits at once. The members name each other's peer ports, so
      // the whole cluster starts again on new ones.
      if (attempt >= 3 || !(e instanceof AlluxioError && /address already in use/.test(e.message))) throw e;
    }
  }
}

async function startClusterOnce(opts: { size?: number; extraArgs?: string[] }): Promise<TestEtcdCluster> {
  const size = opts.size ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-etcd-cluster-'));
  const members: ClusterMember[] = [];
  for (let i = 0; i < size; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({ name: `m${i}`, endpoint: `http://127.0.0.1:${clientPort}`, clientPort, peerPort, dataDir: join(dir, `m${i}`, 'data'), server: undefined });
  }
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const launch = async (m: ClusterMember, state: 'new' | 'existing', waitHealthy: boolean) => {
    m.server = await startEtcdServer({
      name: m.name,
      dataDir: m.dataDir,
      logFile: join(dir, `${m.name}.log`),
      clientPort: m.clientPort,
      peerPort: m.peerPort,
      initialCluster,
      initialClusterState: state,
      waitHealthy,
      ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
    });
  };
  const stop = async (m: ClusterMember, signal: NodeJS.Signals = 'SIGKILL') => {
    const s = m.server;
    m.server = undefined;
    await s?.stop(signal);
  };
  const cluster: TestEtcdCluster = {
    dir,
    members,
    endpoints: members.map((m) => m.endpoint).join(','),
    async leader(timeoutMs = 30_000) {
      return until(
        'an etcd leader',
        async () => {
          const live = members.filter((m) => m.server);
          const st = await Promise.all(live.map((m) => memberStatus(m.endpoint).catch(() => undefined)));
          const leaderId = st.find((s) => s && s.leader !== '0')?.leader;
          if (!leaderId) return undefined;
          const i = st.findIndex((s) => s?.memberId === leaderId);
          return i >= 0 ? live[i] : undefined;
        },
        timeoutMs,
        50,
      );
    },
    stop,
    async start(m) {
      await launch(m, 'existing', true);
    },
    async destroy() {
      for (const m of members) await stop(m, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((m) => launch(m, 'new', false)));
    for (const m of members) await waitForEtcdHealth(m.endpoint, 30_000, m.server?.process);
  } catch (e) {
    // A member that exited says why in its log (read before destroy removes it).
    const why = members.filter((m) => m.server?.process.exitCode != null).map((m) => `${m.name}: ${lastLine(join(dir, `${m.name}.log`))}`);
    await cluster.destroy();
    if (why.length > 0 && e instanceof AlluxioError) throw new AlluxioError(e.code, `${e.message} (${why.join('; ')})`);
    throw e;
  }
  return cluster;
}
