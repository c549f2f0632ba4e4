/**
 * Mount validation (one entry) and the table-wide rules checked before every write:
 * top-level paths, unique paths, no nesting in the UFS namespace, options and redaction.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { joinUnderUfs } from '../../src/domain/ufs-uri.js';
import { fails } from '../helpers/assert.js';
import {
  checkMountAgainst,
  checkWrittenMount,
  checkWrittenOptions,
  isSecretOptionKey,
  metadataTtlMs,
  mountContaining,
  parseMount,
  parseOption,
  parseOptions,
  redactOptions,
  s3SocketTimeoutMs,
  storedMetadataTtlMs,
  sortMounts,
  toEntry,
  validateMountPath,
  validateOption,
  type ParsedMount,
} from '../../src/domain/mounts.js';

const m = (path: string, ufsUri: string, extra: Partial<{ readOnly: boolean; options: Record<string, string> }> = {}): ParsedMount =>
  parseMount({ path, ufsUri, ...extra });

describe('validateMountPath', () => {
  it('exactly one segment, canonicalised', () => {
    assert.equal(validateMountPath('/data'), '/data');
    assert.equal(validateMountPath('/data/'), '/data');
    assert.equal(validateMountPath('//data//'), '/data');
    assert.equal(validateMountPath('/数据'), '/数据');
    assert.equal(validateMountPath('/my-data_1.v2'), '/my-data_1.v2');
  });
  it('root is refused (exit 2)', () => {
    for (const p of ['/', '//', '///']) {
      const e = fails(() => validateMountPath(p), 'InvalidMount', /root "\/" cannot be a mount point/);
      assert.equal(e.exitCode, 2);
    }
  });
  it('nested paths are refused, naming the top-level alternative', () => {
    fails(() => validateMountPath('/data/tables'), 'InvalidMount', /"\/data\/tables" is nested.*\(\/data\)/);
    fails(() => validateMountPath('/a/b/c/'), 'InvalidMount', /nested/);
  });
  it('non-canonical or hostile paths are InvalidPath (exit 2)', () => {
    for (const p of ['data', '', '/..', '/.', '/data/..', '/a\u0000', '/\ud800', '/' + 'x'.repeat(256), '/a\nb']) {
      const e = fails(() => validateMountPath(p), p.length > 255 ? 'NameTooLong' : 'InvalidPath');
      assert.equal(e.exitCode, 2);
      assert.equal(e.step, 'mount-path');
    }
  });
});

describe('options', () => {
  it('s3a.socket.timeout: a duration from 1ms to 24h, refused otherwise as InvalidOption', () => {
    assert.equal(s3SocketTimeoutMs('30s'), 30_000);
    assert.equal(s3SocketTimeoutMs('1500ms'), 1500);
    assert.equal(s3SocketTimeoutMs('2'), 2000); // a bare number is seconds
    assert.equal(s3SocketTimeoutMs('24h'), 86_400_000);
    for (const bad of ['0s', 'soon', '-1', '25h', '1000h', '200000']) {
      fails(() => validateOption('s3a.socket.timeout', bad), 'InvalidOption', /s3a\.socket\.timeout/);
      fails(() => m('/d', 's3://bkt/d/', { options: { 's3a.socket.timeout': bad } }), 'InvalidOption');
    }
  });

  it('checkWrittenMount: an s3:// mount has both keys or neither, in any of their spellings; other schemes are not its business', () => {
    const m = (ufsUri: string, options: Record<string, string>) => parseMount({ path: '/d', ufsUri, options });
    checkWrittenMount(m('s3://bkt/d/', {}));
    checkWrittenMount(m('s3://bkt/d/', { 's3a.accessKeyId': 'AK', 's3a.secretKey': 'SK' }));
    checkWrittenMount(m('s3a://bkt/d/', { 'aws.accessKeyId': 'AK', 's3a.secret.key': 'SK' }));
    checkWrittenMount(m('file:///srv/d/', { 's3a.secretKey': 'SK' }));
    fails(() => checkWrittenMount(m('s3://bkt/d/', { 's3a.secretKey': 'SK' })), 'InvalidOption', /a secret key without its access key/);
    fails(() => checkWrittenMount(m('s3a://bkt/d/', { 's3a.access.key': 'AK', other: 'x' })), 'InvalidOption', /an access key without its secret key/);
    // what a stored entry holds still loads (workers read it; writes are checked)
    assert.equal(m('s3://bkt/d/', { 's3a.secretKey': 'SK' }).options['s3a.secretKey'], 'SK');
  });

  it('cache.metadata.ttl: a duration from 0 to 720h; a write setting another is refused, an entry already stored still loads', () => {
    assert.equal(metadataTtlMs('0'), 0);
    assert.equal(metadataTtlMs('500ms'), 500);
    assert.equal(metadataTtlMs('10s'), 10_000);
    assert.equal(metadataTtlMs('1.5'), 1500); // a bare number is seconds
    assert.equal(metadataTtlMs('1m30s'), 90_000);
    assert.equal(metadataTtlMs('720h'), 720 * 3_600_000);
    for (const bad of ['soon', '-1', '10 s', '5d', 's', '721h', '9'.repeat(400)]) {
      fails(() => metadataTtlMs(bad), 'InvalidOption', /cache\.metadata\.ttl ".*" must be a duration from 0 to 720h/);
      fails(() => checkWrittenOptions({ other: 'x', 'cache.metadata.ttl': bad }), 'InvalidOption', /cache\.metadata\.ttl/);
      // An entry already in etcd (written before the check) still loads: its mount keeps working.
      assert.equal(parseMount({ path: '/d', ufsUri: 's3://bkt/d/', options: { 'cache.metadata.ttl': bad } }).options['cache.metadata.ttl'], bad);
    }
    checkWrittenOptions({ 'cache.metadata.ttl': '2m', other: 'anything' });
  });

  it('cache.metadata.ttl as stored: a bad value reads as 0, one over the cap (accepted before it) as the cap', () => {
    assert.equal(storedMetadataTtlMs('10s'), 10_000);
    assert.equal(storedMetadataTtlMs(undefined), 10_000, 'not set: the default');
    assert.equal(storedMetadataTtlMs('0'), 0);
    for (const bad of ['soon', '-1', '5d', '']) assert.equal(storedMetadataTtlMs(bad), 0, bad);
    for (const big of ['1000h', '9'.repeat(400)]) assert.equal(storedMetadataTtlMs(big), 720 * 3_600_000, big);
  });

  it('k=v, and "=" inside the value is kept', () => {
    assert.deepEqual(parseOption('s3a.endpoint=http://h:9000'), ['s3a.endpoint', 'http://h:9000']);
    assert.deepEqual(parseOption('a=b=c'), ['a', 'b=c']);
    assert.deepEqual(parseOption('token=abc=='), ['token', 'abc==']);
    assert.deepEqual(parseOption('k= spaced value '), ['k', ' spaced value ']);
    assert.deepEqual(parseOption('k=ü数'), ['k', 'ü数']);
  });
  it('without "=" is refused with exit 2', () => {
    const e = fails(() => parseOption('novalue'), 'InvalidOption', /has no "="; write key=value/);
    assert.equal(e.exitCode, 2);
    fails(() => parseOption(''), 'InvalidOption', /has no "="/);
  });
  it('empty key or empty value is refused', () => {
    fails(() => parseOption('=v'), 'InvalidOption', /key "" is not allowed/);
    fails(() => parseOption('='), 'InvalidOption', /key "" is not allowed/);
    fails(() => parseOption('k='), 'InvalidOption', /"k" has an empty value/);
  });
  it('keys are restricted; values may not hold control characters', () => {
    for (const k of ['a b', '.a', '-a', 'a/b', 'a\u0000', 'ü', 'a=b']) fails(() => validateOption(k, 'v'), 'InvalidOption', /key .* is not allowed/);
    for (const k of ['a', 'A1', 's3a.accessKeyId', 'fs.s3a.access.key', 'a_b-c.d']) validateOption(k, 'v');
    fails(() => parseOption('k=a\nb'), 'InvalidOption', /control characters/);
    fails(() => parseOption('k=a\u0000'), 'InvalidOption', /control characters/);
  });
  it('parseOptions: repeated with the same value is fine, with different values refused', () => {
    assert.deepEqual(parseOptions(['a=1', 'b=2', 'a=1']), { a: '1', b: '2' });
    fails(() => parseOptions(['a=1', 'a=2']), 'InvalidOption', /given twice/);
    assert.deepEqual(parseOptions([]), {});
  });
  it('option keys that collide with Object.prototype are ordinary keys', () => {
    const o = parseOptions(['constructor=x', 'toString=y', 'hasOwnProperty=z']);
    assert.deepEqual(Object.entries(o), [['constructor', 'x'], ['toString', 'y'], ['hasOwnProperty', 'z']]);
    fails(() => parseOptions(['__proto__=polluted']), 'InvalidOption', /key "__proto__" is not allowed/);
    assert.deepEqual(Object.entries(redactOptions(o, false)), [['constructor', 'x'], ['toString', 'y'], ['hasOwnProperty', 'z']]);
    const parsed = parseMount({ path: '/p', ufsUri: 's3://my-bucket/p', options: JSON.parse('{"constructor":"c","x.token":"t"}') });
    assert.deepEqual(Object.entries(parsed.options), [['constructor', 'c'], ['x.token', 't']]);
  });
});

describe('redaction of secret-looking option values', () => {
  it('keys containing secret, password, token, credential, accessKey (any case) are secret', () => {
    for (const k of [
      's3a.secretKey', 'SECRET', 'mySecretThing', 'password', 'db.Password', 'PASSWORD', 'token', 'aws.sessionToken', 'TOKEN_x',
      'credential', 'gcs.credentials.path', 'Credential', 's3a.accessKeyId', 'aws.accessKey', 'ACCESSKEY', 'accesskeyid',
      'fs.s3a.access.key', 'fs.s3a.secret.key', 'fs.s3a.session.token', 'access_key', 'passwd', 'ssh.private.key',
    ]) {
      assert.ok(isSecretOptionKey(k), k);
    }
    for (const k of ['s3a.endpoint', 'region', 'alluxio.underfs.s3.region', 'pathStyle', 'access', 'key', 'keyspace', 'readTimeout']) {
      assert.ok(!isSecretOptionKey(k), k);
    }
  });
  it('redactOptions hides values unless showSecrets, and never mutates its input', () => {
    const opts = { 's3a.accessKeyId': 'AKIA123', 's3a.secretKey': 's3cr3t', 's3a.endpoint': 'http://h:9000', 'my.Token': 't' };
    const frozen = JSON.stringify(opts);
    assert.deepEqual(redactOptions(opts, false), { 's3a.accessKeyId': '***', 's3a.secretKey': '***', 's3a.endpoint': 'http://h:9000', 'my.Token': '***' });
    assert.deepEqual(redactOptions(opts, true), opts);
    assert.notEqual(redactOptions(opts, true), opts);
    assert.equal(JSON.stringify(opts), frozen);
    assert.deepEqual(redactOptions({}, false), {});
    // a URI value: its user-info masked; other values as they are
    assert.deepEqual(redactOptions({ 'fs.proxy': 'https://user:pw@proxy:3128/', 'x.url': 'http://h/p?a=b', 'note': 'what? a:b@c' }, false), {
      'fs.proxy': 'https://***@proxy:3128/',
      'x.url': 'http://h/p?a=b',
      'note': 'what? a:b@c',
    });
  });
});

describe('parseMount', () => {
  it('canonicalises path and URI; readOnly defaults to false; options are copied', () => {
    const options = { region: 'eu' };
    const p = parseMount({ path: '/data/', ufsUri: 'S3://my-bucket//data', options });
    assert.equal(p.path, '/data');
    assert.equal(p.name, 'data');
    assert.equal(p.ufsUri, 's3://my-bucket/data/');
    assert.equal(p.readOnly, false);
    assert.deepEqual(p.options, { region: 'eu' });
    assert.notEqual(p.options, options);
    assert.deepEqual(toEntry(p), { path: '/data', ufsUri: 's3://my-bucket/data/', readOnly: false, options: { region: 'eu' } });
    assert.equal(parseMount({ path: '/x', ufsUri: 'file:///srv', readOnly: true }).readOnly, true);
  });
  it('rejects bad URIs with InvalidUfsUri and bad options with InvalidOption', () => {
    fails(() => parseMount({ path: '/d', ufsUri: 'ftp://h/x' }), 'InvalidUfsUri', /unknown scheme/);
    fails(() => parseMount({ path: '/d', ufsUri: 's3://b/x' }), 'InvalidUfsUri', /bucket/);
    fails(() => parseMount({ path: '/d', ufsUri: 's3://my-bucket/x?y' }), 'InvalidUfsUri', /query/);
    fails(() => parseMount({ path: '/d', ufsUri: 's3://my-bucket/x', options: { k: '' } }), 'InvalidOption', /empty value/);
    fails(() => parseMount({ path: '/d', ufsUri: 's3://my-bucket/x', options: { k: 5 as unknown as string } }), 'InvalidOption', /must be a string/);
    fails(() => parseMount({ path: '/', ufsUri: 's3://my-bucket/x' }), 'InvalidMount', /root/);
  });
});

describe('checkMountAgainst (table rules)', () => {
  const table = [m('/data', 's3://my-bucket/data/'), m('/local', 'file:///srv/datasets'), m('/logs', 'hdfs://nn:8020/logs')];

  it('accepts a disjoint mount, including a name-prefix sibling (s3://b/data vs s3://b/database)', () => {
    checkMountAgainst(table, m('/db', 's3://my-bucket/database'), false);
    checkMountAgainst(table, m('/db', 's3://my-bucket/dat'), false);
    checkMountAgainst(table, m('/other', 's3://other-bucket/data'), false);
    checkMountAgainst(table, m('/other', 's3a://other-bucket/data'), false);
    checkMountAgainst(table, m('/srv2', 'file:///srv/datasets2'), false);
    checkMountAgainst([], m('/x', 's3://my-bucket'), false);
  });
  it('duplicate path: MountExists (exit 3)', () => {
    const e = fails(() => checkMountAgainst(table, m('/data', 's3://elsewhere/x'), false), 'MountExists', /\/data is already mounted \(to s3:\/\/my-bucket\/data\/\)/);
    assert.equal(e.exitCode, 3);
    fails(() => checkMountAgainst(table, m('/data/', 's3://elsewhere/x'), false), 'MountExists');
  });
  it('equal URIs (after normalisation) under another path: MountNested (exit 3)', () => {
    for (const uri of ['s3://my-bucket/data/', 's3://my-bucket/data', 'S3://my-bucket//data//', 's3://my-bucket/%64ata']) {
      const e = fails(() => checkMountAgainst(table, m('/copy', uri), false), 'MountNested', /already mounted at \/data/);
      assert.equal(e.exitCode, 3);
    }
  });
  it('nesting either way is refused', () => {
    fails(() => checkMountAgainst(table, m('/tables', 's3://my-bucket/data/tables'), false), 'MountNested', /would nest/);
    fails(() => checkMountAgainst(table, m('/whole', 's3://my-bucket'), false), 'MountNested', /would nest/);
    fails(() => checkMountAgainst(table, m('/srv', 'file:///srv'), false), 'MountNested', /\/local/);
    fails(() => checkMountAgainst(table, m('/root', 'file:///'), false), 'MountNested');
    fails(() => checkMountAgainst(table, m('/deep', 'file:///srv/datasets/a/b/c'), false), 'MountNested');
    fails(() => checkMountAgainst(table, m('/l2', 'hdfs://NN:8020/logs/2024'), false), 'MountNested');
  });
  it('s3a:// is the same bucket as s3:// (scheme family): the same or nested data cannot be mounted twice', () => {
    for (const uri of ['s3a://my-bucket/data', 's3a://my-bucket/data/x', 's3a://my-bucket']) {
      fails(() => checkMountAgainst(table, m('/alias', uri), false), 'MountNested', /would nest/);
    }
    const s3a = [m('/a', 's3a://bkt/data')];
    fails(() => checkMountAgainst(s3a, m('/b', 's3://bkt/data/x'), false), 'MountNested', /mounted at \/a/);
    checkMountAgainst(s3a, m('/b', 's3://bkt/database'), false);
  });
  it('replacing: the entry at the same path is skipped, the others still apply', () => {
    checkMountAgainst(table, m('/data', 's3://my-bucket/data/v2'), true); // nests only with itself
    checkMountAgainst(table, m('/data', 's3://my-bucket'), true);
    fails(() => checkMountAgainst(table, m('/data', 'file:///srv/datasets'), true), 'MountNested', /\/local/);
    fails(() => checkMountAgainst(table, m('/data', 'file:///srv'), true), 'MountNested', /would nest/);
  });
  it('error details name the conflicting mount', () => {
    const e = fails(() => checkMountAgainst(table, m('/t', 's3://my-bucket/data/t'), false), 'MountNested');
    assert.deepEqual(e.details, { path: '/data', ufsUri: 's3://my-bucket/data/' });
    assert.deepEqual(e.toJSON(), { code: 'MountNested', message: e.message, exitCode: 3, details: e.details });
  });
});

describe('sortMounts', () => {
  it('sorts by path without mutating', () => {
    const input = [{ path: '/b' }, { path: '/a' }, { path: '/C' }, { path: '/ä' }];
    const out = sortMounts(input);
    assert.deepEqual(out.map((x) => x.path), ['/C', '/a', '/b', '/ä']);
    assert.deepEqual(input.map((x) => x.path), ['/b', '/a', '/C', '/ä']);
  });
});

it('mountContaining: finds the mount and segments of a joined URI, and nothing for URIs that leave it', () => {
  const mounts = [parseMount({ path: '/data', ufsUri: 's3://bucket/data/' }), parseMount({ path: '/files', ufsUri: 'file:///srv/files' })];
  const seg = fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '.' && s !== '..' && !s.includes('/') && !/[\u0000-\u001f\u007f-\u009f]/.test(s) && s.isWellFormed());
  fc.assert(
    fc.property(fc.constantFrom(0, 1), fc.array(seg, { minLength: 1, maxLength: 5 }), (i, rel) => {
      const m = mounts[i]!;
      const uri = joinUnderUfs(m.ufs, rel).uri;
      const at = mountContaining(mounts, uri);
      assert.ok(at);
      assert.equal(at.mount.path, m.path);
      assert.deepEqual(at.rel, rel);
    }),
  );
  for (const bad of [
    's3://bucket/data/../secret',
    's3://bucket/data/a/../../x',
    's3://bucket/data/%2e%2e/x',
    's3://bucket/data/a%2Fb',
    's3://bucket/data/',
    's3://bucket/data',
    's3://bucket/database/x',
    's3://bucket/data//x',
    's3://bucket/data/x/',
    's3://bucket/data/%zz',
    'file:///srv/files/./x',
    'file:///srv/other/x',
    'S3://bucket/data/x',
  ]) {
    assert.equal(mountContaining(mounts, bad), null, bad);
  }
  // arbitrary strings never name something outside a mount's URI
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (tail) => {
      const at = mountContaining(mounts, `s3://bucket/data/${tail}`);
      if (at) assert.equal(joinUnderUfs(at.mount.ufs, at.rel).uri, `s3://bucket/data/${tail}`);
    }),
  );
});
