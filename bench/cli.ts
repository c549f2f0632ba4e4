/**
 * Every `alluxio` command's CPU and wall time (not a test: prints figures), next to
 * `node -e 0` (the floor for any Node CLI) and `etcdctl get` (etcd's own client) in the
 * same interleaved run, against its own etcd (temp dir, always stopped) holding 50 mounts
 * and 200 rules. Writes alternate so every run commits a real change (add then remove).
 * Goals (issue: the control plane an operator trusts): CPU median <= 150 ms per command,
 * wall <= 3x node -e 0, `--version` wall <= 2x node -e 0.
 * Run: node dist/bench/cli.js   (BENCH_RUNS=N, default 10)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { startEtcdServer } from '../src/local/etcd-server.js';
import { median, runBench, timeCommand, type TimedCase } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUN = join(ROOT, 'bin', 'run.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const CPU_GOAL_MS = 150;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-bench-cli-'));
  const etcd = await startEtcdServer({ dataDir: join(dir, 'data'), logFile: join(dir, 'etcd.log') });
  const env = { ...process.env, ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: 'bench', NO_COLOR: '1' };
  const cli = (...args: string[]): string => {
    const r = spawnSync(process.execPath, [RUN, ...args], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`alluxio ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    for (let i = 0; i < 50; i++) cli('mount', 'add', '--path', `/m${i}`, '--ufs-uri', `file://${dir}/m${i}/`);
    const rules = { rules: Array.from({ length: 200 }, (_, i) => ({ src: `^/m${i % 50}/alias${i}/(.*)$`, dst: `/m${(i + 1) % 50}/v${i}/{{ var1 }}` })) };
    const file = join(dir, 'rules.json');
    writeFileSync(file, JSON.stringify(rules));
    cli('path-mapping', 'import', file);
    cli('path-mapping', 'add', '--from', '/m1/latest', '--to', '/m1/v3', '--id', 'latest');
    const rev = Number(JSON.parse(cli('mount', 'list', '--json')).revision);

    let flip = 0;
    const ok = (): void => {};
    const alluxio = (name: string, args: () => string[]): TimedCase => {
      const c: TimedCase = { name, cmd: process.execPath, args: [], env, check: ok, samples: [], cpu: [] };
      Object.defineProperty(c, 'args', { get: args });
      return c;
    };
    const cases: TimedCase[] = [
      { name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'], check: ok, samples: [], cpu: [] },
      { name: 'etcdctl get', cmd: 'etcdctl', args: ['--endpoints', etcd.endpoint, 'get', '--prefix', '/alluxio/bench/config/mounts/'], env: { ...process.env, ETCDCTL_API: '3' }, check: ok, samples: [], cpu: [] },
      alluxio('--version', () => [RUN, '--version']),
      alluxio('mount list', () => [RUN, 'mount', 'list']),
      alluxio('path-mapping list', () => [RUN, 'path-mapping', 'list']),
      alluxio('resolve', () => [RUN, 'resolve', '/m1/latest/config.json']),
      alluxio('path-mapping test', () => [RUN, 'path-mapping', 'test', '/m3/alias3/x']),
      alluxio('worker list', () => [RUN, 'worker', 'list']),
      alluxio('history', () => [RUN, 'history']),
      alluxio('diff', () => [RUN, 'diff', '--from', String(rev)]),
      alluxio('path-mapping update', () => [RUN, 'path-mapping', 'update', '--id', 'latest', '--to', `/m1/v${3 + (flip++ % 2)}`]),
      alluxio('mount update', () => [RUN, 'mount', 'update', '--path', '/m2', ...(flip++ % 2 ? ['--readonly'] : ['--no-readonly'])]),
      alluxio('path-mapping add --dry-run', () => [RUN, 'path-mapping', 'add', '--from', '/m4/x', '--to', '/m5/y', '--dry-run']),
    ];
    for (const c of cases) timeCommand(c); // warm-up: page cache, etcd's first range
    for (const c of cases) c.cpu.length = 0;
    const load0 = loadavg()[0]!;
    for (let r = 0; r < RUNS; r++) for (const c of cases) c.samples.push(timeCommand(c));
    const load1 = loadavg()[0]!;

    const node = median(cases[0]!.samples);
    console.log(`cli: ${RUNS} interleaved runs per case, etcd ${etcd.endpoint} with 50 mounts and 201 rules; load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}`);
    console.log('case                          wall med ms  x node -e 0   cpu med ms   cpu goal');
    for (const c of cases) {
      const wall = median(c.samples);
      const cpu = c.cpu.length ? median(c.cpu) : NaN;
      const goal = c.name === 'node -e 0' || c.name === 'etcdctl get' ? '' : cpu <= CPU_GOAL_MS ? 'met' : 'NOT met';
      console.log(`${c.name.padEnd(29)} ${wall.toFixed(0).padStart(11)} ${(wall / node).toFixed(2).padStart(12)} ${Number.isNaN(cpu) ? '        n/a' : cpu.toFixed(0).padStart(11)}   ${goal}`);
    }
  } finally {
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
