/**
 * `alluxio mount list --json` against 1,000 mounts (not a test: prints figures).
 *
 * Starts its own etcd on free loopback ports (temp dir, always stopped), writes 1,000
 * mounts in the layout the CLI uses (docs/etcd-layout.md), then times, interleaved, wall
 * clock per process:
 *   node -e 0                                  bare Node start (the floor for any JS CLI)
 *   etcdctl get --prefix <mounts prefix>       the baseline: the same keys with etcd's own client
 *   alluxio --version                          oclif start without loading a command
 *   alluxio mount list --json                  the command under test (goal: median < 500 ms)
 * and prints medians, min/max and ratios against the baselines measured in the same run,
 * plus the median CPU time (user+sys, from /usr/bin/time when present): on a machine shared
 * with other work the wall clock includes waiting for a core, the CPU time does not.
 * Run: node dist/bench/mount-list.js   (BENCH_RUNS=N, default 11; BENCH_MOUNTS=N, default 1000)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { startEtcdServer } from '../src/local/etcd-server.js';
import { Layout, SCHEMA_VERSION } from '../src/store/layout.js';
import { parseMount, toEntry } from '../src/domain/mounts.js';
import { median, runBench, timeCommand, type TimedCase } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUN = join(ROOT, 'bin', 'run.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const MOUNTS = Number(process.env.BENCH_MOUNTS ?? 1000);
const CLUSTER = 'bench';
const GOAL_MS = 500;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-bench-mount-list-'));
  const etcd = await startEtcdServer({ dataDir: join(dir, 'data'), logFile: join(dir, 'etcd.log') });
  const client = new Etcd3({ hosts: etcd.endpoint });
  try {
    const layout = new Layout(CLUSTER);
    // Realistic entries: options, some secrets, some read-only.
    const puts: [string, string][] = [];
    for (let i = 0; i < MOUNTS; i++) {
      const m = parseMount({
        path: `/tenant-${String(i).padStart(4, '0')}`,
        ufsUri: `s3://bench-bucket-${i % 7}/tenants/t${i}/`,
        readOnly: i % 5 === 0,
        options: { 's3a.endpoint': 'http://minio.internal:9000', 's3a.accessKeyId': `AKIA${i}`, 's3a.secretKey': `secret-${i}`, 's3a.region': 'eu-west-1' },
      });
      puts.push([layout.mountKey(m.path), JSON.stringify(toEntry(m))]);
    }
    puts.push([layout.schemaKey, JSON.stringify({ version: SCHEMA_VERSION })]);
    puts.push([layout.generationKey, JSON.stringify({ generation: 1, updatedAt: new Date().toISOString(), by: 'bench' })]);
    for (let i = 0; i < puts.length; i += 100) {
      const batch = puts.slice(i, i + 100);
      await client.if(layout.schemaKey, 'Version', '>', -1).then(...batch.map(([k, v]) => client.put(k).value(v))).commit();
    }

    const cliEnv = { ...process.env, ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: CLUSTER, NO_COLOR: '1' };
    const cases: TimedCase[] = [
      { name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'], check: () => {}, samples: [], cpu: [] },
      {
        name: 'etcdctl get --prefix',
        cmd: 'etcdctl',
        args: ['--endpoints', etcd.endpoint, 'get', '--prefix', layout.mountsPrefix],
        env: { ...process.env, ETCDCTL_API: '3' },
        check: (out) => {
          const n = out.split('\n').filter((l) => l.startsWith(layout.mountsPrefix)).length;
          if (n !== MOUNTS) throw new Error(`etcdctl saw ${n} mounts`);
        },
        samples: [],
        cpu: [],
      },
      {
        name: 'alluxio --version',
        cmd: process.execPath,
        args: [RUN, '--version'],
        env: cliEnv,
        check: (out) => {
          if (!/^alluxio-control-plane\/\S+ /.test(out)) throw new Error(`unexpected --version output: ${out}`);
        },
        samples: [],
        cpu: [],
      },
      {
        name: 'alluxio mount list --json',
        cmd: process.execPath,
        args: [RUN, 'mount', 'list', '--json'],
        env: cliEnv,
        check: (out) => {
          const doc = JSON.parse(out) as { mounts: { options: Record<string, string> }[] };
          if (doc.mounts.length !== MOUNTS) throw new Error(`mount list returned ${doc.mounts.length} mounts`);
          if (doc.mounts[0]!.options['s3a.secretKey'] !== '***') throw new Error('secrets not redacted');
        },
        samples: [],
        cpu: [],
      },
    ];

    // One warm-up each (page cache, etcd's first range), then interleaved runs so that
    // machine noise hits every case alike.
    for (const c of cases) timeCommand(c);
    for (const c of cases) c.cpu.length = 0;
    const load0 = loadavg()[0]!;
    for (let r = 0; r < RUNS; r++) for (const c of cases) c.samples.push(timeCommand(c));
    const load1 = loadavg()[0]!;

    const med = new Map(cases.map((c) => [c.name, median(c.samples)]));
    const list = med.get('alluxio mount list --json')!;
    const version = med.get('alluxio --version')!;
    const etcdctl = med.get('etcdctl get --prefix')!;
    const node = med.get('node -e 0')!;
    const cores = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length || '?';
    console.log(`mount-list: ${MOUNTS} mounts in etcd ${etcd.endpoint}, ${RUNS} interleaved runs per case; ${cores} cores, load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}`);
    console.log('case                         wall median ms    min ms    max ms   cpu median ms');
    for (const c of cases) {
      const cpu = c.cpu.length ? median(c.cpu).toFixed(0) : 'n/a';
      console.log(`${c.name.padEnd(28)} ${med.get(c.name)!.toFixed(1).padStart(14)} ${Math.min(...c.samples).toFixed(1).padStart(9)} ${Math.max(...c.samples).toFixed(1).padStart(9)} ${cpu.padStart(15)}`);
    }
    console.log(`ratio mount list / etcdctl get --prefix: ${(list / etcdctl).toFixed(2)}x`);
    console.log(`ratio mount list / alluxio --version:     ${(list / version).toFixed(2)}x`);
    console.log(`ratio alluxio --version / node -e 0:      ${(version / node).toFixed(2)}x`);
    console.log(`mount list beyond --version (the command itself): ${(list - version).toFixed(1)} ms`);
    console.log(`goal: mount list of ${MOUNTS} mounts < ${GOAL_MS} ms: ${list < GOAL_MS ? 'met' : 'NOT met'} (median ${list.toFixed(1)} ms)`);
  } finally {
    client.close();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
