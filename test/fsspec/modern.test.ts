/**
 * The `alluxiofs` package on today's Python data stack: the pytest suites of
 * python/tests/modern/ run in the pinned venv of scripts/python-venv.sh (fsspec 2026,
 * pandas 3, pyarrow, polars, duckdb, datasets) against a real etcd and a real worker.
 * fsspec's own abstract conformance suite is one of them. pytest's output is captured
 * (shown only when a suite fails) so node's test runner summary stays intact; the counts
 * come from pytest's JUnit XML. Ray Data runs too (ALLUXIO_TEST_RAY=0 leaves it out).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { collect } from '../helpers/proc.js';
import { PY_DIR, startFsEnv, workerHosts, type FsEnv } from './env.js';

const SUITES = join(PY_DIR, 'tests', 'modern');
let env: FsEnv;
let venvPython = '';
let venvError = '';
let tmp: string;

before(async () => {
  // Builds the venv on first use (about a minute from the local index), then reuses it.
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'python-venv.sh')], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.status === 0) venvPython = r.stdout.trim().split('\n').pop() ?? '';
  else venvError = `scripts/python-venv.sh failed (exit ${r.status}):\n${r.stderr}`;
  env = await startFsEnv();
  tmp = mkdtempSync(join(tmpdir(), 'alluxiofs-pytest-'));
});

after(async () => {
  await env?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  passed: number;
}

async function pytest(file: string, extraEnv: Record<string, string> = {}): Promise<Counts> {
  assert.ok(venvPython, venvError);
  const xml = join(tmp, `${file}.xml`);
  const child = spawn(venvPython, ['-m', 'pytest', '-q', '-c', join(SUITES, 'pytest.ini'), '--junitxml', xml, join(SUITES, file)], {
    cwd: tmp,
    env: {
      ...process.env,
      PYTHONPATH: PY_DIR,
      PYTHONDONTWRITEBYTECODE: '1',
      WORKER_HOSTS: workerHosts(env.workers),
      DATA_DIR: env.data,
      RO_DIR: env.ro,
      ETCD_ENDPOINT: env.etcd.endpoint,
      HF_HOME: join(tmp, 'hf'),
      HF_HUB_DISABLE_TELEMETRY: '1',
      ALLUXIO_SHORT_CIRCUIT: '1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await collect(child, 15 * 60_000);
  let doc = '';
  try {
    doc = readFileSync(xml, 'utf8');
  } catch {
    assert.fail(`pytest ${file} wrote no report (exit ${code}):\n${stdout}\n${stderr}`);
  }
  const m = /<testsuite\b[^>]*>/.exec(doc)?.[0] ?? '';
  const num = (k: string) => Number(new RegExp(`\\b${k}="(\\d+)"`).exec(m)?.[1] ?? NaN);
  const c = { tests: num('tests'), failures: num('failures'), errors: num('errors'), skipped: num('skipped'), passed: 0 };
  c.passed = c.tests - c.failures - c.errors - c.skipped;
  assert.equal(code, 0, `pytest ${file}: ${JSON.stringify(c)}\n${stdout.slice(-20000)}\n${stderr.slice(-5000)}`);
  assert.equal(c.failures + c.errors, 0);
  return c;
}

test("fsspec's own abstract test suite (copy, get, put, open, pipe; ls/find/glob/info through them) passes on a writable mount", async (t) => {
  const c = await pytest('test_abstract.py');
  t.diagnostic(`fsspec.tests.abstract: ${c.passed} of ${c.tests} passed`);
  assert.ok(c.passed >= 130, `only ${c.passed} abstract tests ran`);
  assert.equal(c.skipped, 0);
});

test('protocol: fsspec entry points, URL forms and their round trip, upstream constructor arguments, names ending in white space', async (t) => {
  const c = await pytest('test_protocol.py');
  t.diagnostic(`${c.passed} of ${c.tests} passed`);
  assert.equal(c.skipped, 0);
});

test('workloads: pyarrow (projection reads only the column), pandas, polars, duckdb, datasets (streaming on/off), to_parquet, cat_ranges, caches, parallel fetch', async (t) => {
  const c = await pytest('test_workloads.py');
  t.diagnostic(`${c.passed} of ${c.tests} passed`);
  assert.equal(c.skipped, 0);
});

test('Ray Data read_parquet (local ray.init(num_cpus=2); ALLUXIO_TEST_RAY=0 leaves Ray out)', { skip: process.env.ALLUXIO_TEST_RAY === '0' && 'ALLUXIO_TEST_RAY=0' }, async (t) => {
  const c = await pytest('test_ray.py', { ALLUXIO_TEST_RAY: '1' });
  t.diagnostic(`${c.passed} of ${c.tests} passed`);
  assert.equal(c.passed, 1);
});
