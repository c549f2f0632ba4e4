/**
 * Every kind of argv mistake oclif's parser reports is a usage error: exit 2, one line
 * (no stack), `{"error":{"code":"UsageError",...}}` under --json. The base command tells
 * them apart by `instanceof Errors.CLIError`, so each parser error class is exercised here
 * through the real CLI. None of them needs etcd: the endpoint is a closed port, and a
 * usage error must come before any connection (else these would exit 5).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local/etcd-server.js';

describe('usage errors from the argv parser', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown flag (NonExistentFlagsError)', ['mount', 'add', '--path', '/x', '--ufs-uri', 'file:///x', '--bogus', '1'], /Nonexistent flag: --bogus/],
    ['missing required flag (FailedFlagValidationError)', ['mount', 'add', '--path', '/x'], /Missing required flag ufs-uri/],
    ['value outside the options (FlagInvalidOptionError)', ['resolve', '--api', 'ftp', '/x'], /Expected --api=ftp to be one of/],
    ['exclusive flags (FailedFlagValidationError)', ['path-mapping', 'add', '--from', '/a', '--to', '/b', '--src', 'x'], /cannot also be provided when using/],
    ['not an integer (Flags.integer)', ['migrate', 'start', '--path', '/x', '--to', 'file:///y', '--concurrency', 'many'], /Expected an integer but received: many/],
    ['integer out of range (Flags.integer)', ['migrate', 'start', '--path', '/x', '--to', 'file:///y', '--concurrency', '0'], /greater than or equal to 1/],
    ['unexpected argument (UnexpectedArgsError)', ['path-mapping', 'test', '/a', '/b'], /Unexpected argument: \/b/],
    ['missing required argument (RequiredArgsError)', ['path-mapping', 'test'], /Missing 1 required arg/],
  ];

  for (const [what, args, pattern] of cases) {
    it(what, async () => {
      const env = { ALLUXIO_ETCD_ENDPOINTS: `http://127.0.0.1:${await freePort()}` };
      const json = await runCli([...args, '--json'], { env });
      assert.equal(json.code, 2, json.stdout + json.stderr);
      const doc = json.json();
      assert.deepEqual(Object.keys(doc), ['error']);
      assert.equal(doc.error.code, 'UsageError');
      assert.equal(doc.error.exitCode, 2);
      assert.match(doc.error.message, pattern);
      assert.doesNotMatch(doc.error.message, /See more help/);
      const human = await runCli(args, { env });
      assert.equal(human.code, 2, human.stdout + human.stderr);
      assert.equal(human.stdout, '');
      assert.match(human.stderr, /^Error: /);
      assert.match(human.stderr, pattern);
      assert.match(human.stderr, new RegExp(`See: alluxio ${args[0]}( ${args[1]})? --help`));
      assert.doesNotMatch(human.stderr, /\n\s+at /, 'no stack trace');
    });
  }
});

describe('an unknown command or topic (before any command runs)', () => {
  for (const args of [['nosuchcmd'], ['mount', 'nosuch']]) {
    it(`${args.join(' ')}: exit 2; under --json one JSON error document on stdout`, async () => {
      const env = { ALLUXIO_ETCD_ENDPOINTS: `http://127.0.0.1:${await freePort()}` };
      const json = await runCli([...args, '--json'], { env });
      assert.equal(json.code, 2, json.stdout + json.stderr);
      assert.deepEqual(json.json(), { error: { code: 'UsageError', message: `command "${args.join(' ')}" not found`, exitCode: 2 } });
      const human = await runCli(args, { env });
      assert.equal(human.code, 2);
      assert.equal(human.stdout, '');
      assert.match(human.stderr, /command .* not found/);
      assert.doesNotMatch(human.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('a topic without its subcommand: help (exit 0), but under --json a usage error document, not help text', async () => {
    // (the CLI probe of 2026-12-02: `alluxio mount --json` printed help on stdout, exit 0)
    const json = await runCli(['mount', '--json']);
    assert.equal(json.code, 2, json.stdout + json.stderr);
    assert.deepEqual(json.json(), { error: { code: 'UsageError', message: 'alluxio mount needs a subcommand: add, list, remove, update (see alluxio mount --help)', exitCode: 2 } });
    assert.match((await runCli(['cache', '--json'])).json().error.message, /^alluxio cache needs a subcommand: free, load, status /);
    const human = await runCli(['mount']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /USAGE\n\s+\$ alluxio mount COMMAND/);
    // asked for help: help, --json or not
    const asked = await runCli(['mount', '--help', '--json']);
    assert.equal(asked.code, 0);
    assert.match(asked.stdout, /mount add/);
  });
});

describe('values the commands check themselves: exit 2 before any connection, nothing ignored', () => {
  it('history --path that is not an Alluxio path; resolve with --bucket and an argument; a rule file with a relative virtual directory; a flag with its --no- form', async () => {
    const env = { ALLUXIO_ETCD_ENDPOINTS: `http://127.0.0.1:${await freePort()}` };
    const dir = mkdtempSync(join(tmpdir(), 'alluxio-usage-'));
    try {
      const file = join(dir, 'pm.json');
      writeFileSync(file, JSON.stringify({ rules: [], virtualDirectories: ['rel'] }));
      for (const [args, code, pattern] of [
        [['history', '--path', 'bad'], 'InvalidPath', /not absolute/],
        [['resolve', '--api', 's3', '--bucket', 'data', '--key', 'x', '/extra'], 'InvalidArgument', /not both/],
        [['path-mapping', 'import', file], 'InvalidRuleFile', /virtualDirectories\[0\]/],
        // a flag and its --no- form (oclif let the last one win; the CLI probe of 2026-12-02)
        [['mount', 'update', '--path', '/x', '--readonly', '--no-readonly'], 'InvalidArgument', /--readonly and --no-readonly cannot be given together/],
        [['path-mapping', 'update', '--id', 'x', '--no-enabled', '--enabled'], 'InvalidArgument', /--enabled and --no-enabled cannot be given together/],
      ] as const) {
        const r = await runCli([...args, '--json'], { env });
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.equal(r.json().error.code, code);
        assert.match(r.json().error.message, pattern);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a duration flag longer than a timer can wait (596h)', () => {
  // Node's timers fire at once past 2^31-1 ms: --etcd-timeout 597h failed at once as a
  // timeout and --wait --wait-timeout 597h never returned (the HA probe of 2026-12-03).
  for (const args of [
    ['mount', 'list', '--etcd-timeout', '597h'],
    ['path-mapping', 'add', '--from', '/a', '--to', '/b', '--wait', '--wait-timeout', '597h'],
  ]) {
    it(`${args.join(' ')}: exit 2, one line, before any connection`, async () => {
      const env = { ALLUXIO_ETCD_ENDPOINTS: `http://127.0.0.1:${await freePort()}` };
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^Error: --(etcd|wait)-timeout "597h" is too long: at most 596h/);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
    });
  }
});
