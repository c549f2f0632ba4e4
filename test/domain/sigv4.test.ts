/**
 * src/domain/sigv4.ts, the pure signer: its shortcuts (a path that is its own canonical
 * form, the date formatted once per second, no query) give exactly what the general rules
 * and the AWS SDK's signer give.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { amzDateOf, awsUriEncode, canonicalUri, signV4 } from '../../src/domain/sigv4.js';

/** The canonical URI by the rule itself, segment by segment (no shortcut). */
function canonicalByRule(rawPath: string): string {
  return rawPath
    .split('/')
    .map((seg) => awsUriEncode(decodeURIComponent(seg), false))
    .join('/');
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('canonicalUri: paths that are their own canonical form and paths that are not give what the rule gives', () => {
  const rnd = seeded(7);
  const alphabet = ['a', 'Z', '0', '-', '_', '.', '~', '/', '//', '%20', '%2F', '%41', '%7E', '%C3%A9', '+', '=', '!', '*', "'", '(', ')', ',', ';', ':', '@', '$'];
  const err = () => new Error('malformed');
  for (let i = 0; i < 5000; i++) {
    let p = '/';
    const n = Math.floor(rnd() * 12);
    for (let k = 0; k < n; k++) p += alphabet[Math.floor(rnd() * alphabet.length)];
    assert.equal(canonicalUri(p, err), canonicalByRule(p), p);
  }
  assert.equal(canonicalUri('/bk/dir/sub/x.bin', err), '/bk/dir/sub/x.bin');
  assert.throws(() => canonicalUri('/bk/%zz', err), /malformed/);
});

test('amzDateOf: each second formatted right, forwards, backwards and within one second', () => {
  const base = Date.UTC(2026, 11, 31, 23, 59, 58, 999);
  const seq = [base, base + 1, base + 1000, base + 1001, base + 2000, base - 86_400_000, base, base + 500];
  for (const ms of seq) {
    const want = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    assert.equal(amzDateOf(ms), want, String(ms));
  }
  assert.equal(amzDateOf(Date.UTC(2027, 0, 1, 0, 0, 0, 1)), '20270101T000000Z');
});

test('signV4 agrees with the AWS SDK signer across seconds, days and paths (with and without a query)', async () => {
  const rnd = seeded(11);
  const paths = ['/bk/plain.bin', '/bk/dir/sub/x', '/bk/a%20b%2Bc.bin', '/'];
  for (let i = 0; i < 40; i++) {
    const now = Date.UTC(2026, 11, 1) + Math.floor(rnd() * 3 * 86_400_000);
    const path = paths[i % paths.length]!;
    const query: Record<string, string> = i % 3 === 0 ? { 'list-type': '2', prefix: 'a b/é' } : {};
    const rawQuery = Object.entries(query).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    const ours = signV4({ method: 'GET', rawPath: path, rawQuery, host: 'h.example:9000', accessKey: 'AK', secret: 'SK', region: 'eu-west-1', service: 's3', now, headers: { range: `bytes=0-${i}` } });
    const aws = await new SignatureV4({ credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' }, region: 'eu-west-1', service: 's3', sha256: Sha256, uriEscapePath: false }).sign(
      { method: 'GET', protocol: 'http:', hostname: 'h.example', port: 9000, path, query, headers: { host: 'h.example:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', range: `bytes=0-${i}` } },
      { signingDate: new Date(now) },
    );
    assert.equal(ours['x-amz-date'], aws.headers['x-amz-date'], `${path} at ${now}`);
    assert.equal(ours.authorization, aws.headers.authorization, `${path} at ${now}`);
  }
});

test('signV4 signs given headers in name order with their whitespace folded, and returns them without host', async () => {
  const now = Date.UTC(2026, 11, 3, 7, 30, 5);
  // names before and after "host" and the x-amz ones; values with runs of whitespace
  const given = { 'if-match': '  "abc"  ', range: 'bytes=0-9', 'x-amz-security-token': 'tok  en\t2', 'a-first': 'x', zz: 'a   b' };
  const ours = signV4({ method: 'GET', rawPath: '/bk/k', rawQuery: '', host: 'h.example:9000', accessKey: 'AK', secret: 'SK', region: 'eu-west-1', service: 's3', now, headers: given });
  const aws = await new SignatureV4({ credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' }, region: 'eu-west-1', service: 's3', sha256: Sha256, uriEscapePath: false }).sign(
    { method: 'GET', protocol: 'http:', hostname: 'h.example', port: 9000, path: '/bk/k', query: {}, headers: { ...given, host: 'h.example:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { signingDate: new Date(now) },
  );
  assert.equal(ours.authorization, aws.headers.authorization);
  assert.match(ours.authorization!, /SignedHeaders=a-first;host;if-match;range;x-amz-content-sha256;x-amz-date;x-amz-security-token;zz,/);
  assert.deepEqual(Object.keys(ours), ['if-match', 'range', 'x-amz-security-token', 'a-first', 'zz', 'x-amz-content-sha256', 'x-amz-date', 'authorization']);
  assert.equal(ours['if-match'], given['if-match'], 'the values sent are the given ones (only the signature folds them)');
  // a given host or x-amz-date does not override what is signed, nor show in the result
  const withHost = signV4({ method: 'GET', rawPath: '/bk/k', rawQuery: '', host: 'h.example:9000', accessKey: 'AK', secret: 'SK', region: 'eu-west-1', service: 's3', now, headers: { ...given, host: 'evil', 'x-amz-date': '19990101T000000Z' } });
  assert.deepEqual(withHost, ours);
});
