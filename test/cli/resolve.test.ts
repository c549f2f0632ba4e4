/**
 * `alluxio resolve` through the real CLI against a real etcd: the four APIs agree on the
 * UFS URI, rule, mount and revision; the trace is printed; bad input exits 2 naming the
 * step; a path in no mount exits 4; `path-mapping test` prints the same document and
 * exits 0 when the rewritten path is in no mount.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor, PATIENT_ETCD } from '../helpers/cli.js';

let etcd: TestEtcd;
let cli: ReturnType<typeof cliFor>;

before(async () => {
  etcd = await startTestEtcd();
  cli = cliFor(etcd.endpoint, 'resolve', PATIENT_ETCD);
  for (const args of [
    ['mount', 'add', '--path', '/model', '--ufs-uri', 's3://my-bucket/model/'],
    ['mount', 'add', '--path', '/data', '--ufs-uri', 'file:///srv/data/', '--readonly'],
    ['path-mapping', 'add', '--from', '/model/latest', '--to', '/model/v3', '--id', 'latest'],
    ['path-mapping', 'add', '--src', '^/team-(\\w+)/(.*)$', '--dst', '/data/teams/{{ var1 }}/{{ var2 }}', '--id', 'teams'],
    ['path-mapping', 'add', '--from', '/ghost', '--to', '/nowhere/g', '--id', 'ghost'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
});
after(async () => {
  await etcd?.destroy();
});

describe('alluxio resolve', () => {
  it('the four APIs agree on UFS URI, rule, mount and revision', async () => {
    const runs = await Promise.all([
      cli(['resolve', '/model/latest/config.json', '--json']),
      cli(['resolve', '--api', 'alluxio', 'alluxio:///model/latest/config.json', '--json']),
      cli(['resolve', '--api', 's3', '--bucket', 'model', '--key', 'latest/config.json', '--json']),
      cli(['resolve', '--api', 'fsspec', 's3://my-bucket/model/latest/config.json', '--json']),
      cli(['resolve', '--api', 'posix', '/mnt/alluxio/fuse/model/latest/config.json', '--json']),
      cli(['resolve', '--api', 'posix', '--fuse-root', '/fuse', '/fuse/model/latest/config.json', '--json']),
    ]);
    const docs = runs.map((r) => {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return r.json();
    });
    for (const d of docs) {
      assert.equal(d.ufsUri, 's3://my-bucket/model/v3/config.json');
      assert.deepEqual(d.rule, { id: 'latest', kind: 'prefix' });
      assert.deepEqual(d.mount, { path: '/model', ufsUri: 's3://my-bucket/model/', readOnly: false });
      assert.equal(d.alluxioPath, '/model/latest/config.json');
      assert.equal(d.rewrittenPath, '/model/v3/config.json');
      assert.equal(d.revision, docs[0].revision);
      assert.ok(Array.isArray(d.trace));
    }
    assert.deepEqual(docs.map((d) => d.api), ['alluxio', 'fsspec', 's3', 'fsspec', 'posix', 'posix']);
    assert.deepEqual(Object.keys(docs[0]).sort(), ['alluxioPath', 'api', 'input', 'mount', 'revision', 'rewrittenPath', 'rule', 'trace', 'ufsUri']);
    assert.deepEqual(docs[2].trace.map((t: { step: string }) => t.step), ['input', 'decode', 'normalize', 'rule', 'rewrite', 'mount', 'join']);
  });

  it('an fsspec URI typed on the command line is raw text, as over REST: "%" is part of the name', async () => {
    const names = ['100%.csv', 'x%41.txt', '%2e%2e'];
    const runs = await Promise.all(
      names.flatMap((n) => [
        cli(['resolve', '--api', 'fsspec', `file:///srv/data/${n}`, '--json']),
        cli(['resolve', '--api', 's3', '--bucket', 'data', '--key', n, '--json']),
        cli(['resolve', '--api', 'posix', `/mnt/alluxio/fuse/data/${n}`, '--json']),
        cli(['resolve', '--api', 'fsspec', `s3a://my-bucket/model/${n}`, '--json']),
      ]),
    );
    names.forEach((n, i) => {
      const docs = runs.slice(4 * i, 4 * i + 4).map((r) => {
        assert.equal(r.code, 0, r.stdout + r.stderr);
        return r.json();
      });
      for (const d of docs.slice(0, 3)) {
        assert.equal(d.alluxioPath, `/data/${n}`, `${d.api} ${n}`);
        assert.equal(d.ufsUri, `file:///srv/data/${n.replaceAll('%', '%25')}`, `${d.api} ${n}`);
      }
      // s3a:// is the same bucket as the s3:// mount
      assert.equal(docs[3].alluxioPath, `/model/${n}`);
      assert.equal(docs[3].ufsUri, `s3://my-bucket/model/${n.replaceAll('%', '%25')}`);
    });
  });

  it('prints the trace readably', async () => {
    const r = await cli(['resolve', '/team-ml/a b/c.csv']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'file:///srv/data/teams/ml/a%20b/c.csv');
    assert.match(r.stdout, /normalize\s+\/team-ml\/a b\/c.csv/);
    assert.match(r.stdout, /rule\s+-> teams \(regex: .*\)\s+var1="ml" var2="a b\/c.csv"/);
    assert.match(r.stdout, /rewrite\s+\/team-ml\/a b\/c.csv -> \/data\/teams\/ml\/a b\/c.csv/);
    assert.match(r.stdout, /mount\s+\/data -> file:\/\/\/srv\/data\//);
    const s3 = await cli(['resolve', '--api', 's3', '--bucket', 'model', '--key', 'x']);
    assert.match(s3.stdout, /decode\s+bucket "model" key "x" -> \/model\/x/);
    assert.match(s3.stdout, /rule\s+no rule matched/);
  });

  it('bad input exits 2 naming the step; no mount exits 4', async () => {
    const cases: [string[], number, string, string | undefined][] = [
      [['resolve', '/model/../etc/passwd'], 2, 'InvalidPath', 'normalize'],
      [['resolve', 'model/x'], 2, 'InvalidPath', 'normalize'],
      [['resolve', '--api', 's3', '--bucket', 'model', '--key', '../../etc/passwd'], 2, 'InvalidPath', 'normalize'],
      [['resolve', '--api', 'posix', '/elsewhere/model/x'], 2, 'InvalidPath', 'decode'],
      [['resolve', '--api', 'fsspec', 's3://my-bucket/model/../x'], 2, 'InvalidPath', 'decode'],
      [['resolve', '--api', 'fsspec', 's3://my-bucket/modelx/y'], 4, 'NoMountForUri', 'decode'],
      [['resolve', '/nope/x'], 4, 'NoMountForPath', 'mount'],
      [['resolve', '/ghost/x'], 4, 'NoMountForPath', 'mount'],
      [['resolve', '--api', 's3', '--key', 'x'], 2, 'InvalidArgument', undefined],
      [['resolve', '--api', 'ftp', '/x'], 2, 'UsageError', undefined],
    ];
    const results = await Promise.all(cases.map(([args]) => cli([...args, '--json'])));
    results.forEach((r, i) => {
      const [args, code, err, step] = cases[i]!;
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      const e = r.json().error;
      assert.equal(e.code, err, args.join(' '));
      assert.equal(e.step, step, args.join(' '));
    });
    const human = await cli(['resolve', '/model/../etc']);
    assert.equal(human.code, 2);
    assert.match(human.stderr, /"\.\." segment.*\(step: normalize\)/);
    assert.equal(human.stdout, '');
  });

  it('path-mapping test: same document, unmounted targets are null with exit 0', async () => {
    const t = await cli(['path-mapping', 'test', '/ghost/x', '--json']);
    assert.equal(t.code, 0);
    const d = t.json();
    assert.equal(d.rewrittenPath, '/nowhere/g/x');
    assert.deepEqual([d.mount, d.ufsUri], [null, null]);
    assert.deepEqual(d.rule, { id: 'ghost', kind: 'prefix' });
    const [a, b] = await Promise.all([cli(['path-mapping', 'test', '/model/latest/c', '--json']), cli(['resolve', '/model/latest/c', '--json'])]);
    assert.deepEqual(a.json(), b.json());
    const bad = await cli(['path-mapping', 'test', '/a/../b', '--json']);
    assert.equal(bad.code, 2);
  });
});
