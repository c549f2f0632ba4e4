/**
 * A worker configured with access/secret pairs (ALLUXIO_S3_CREDENTIALS) verifies SigV4:
 * header signatures from the JS SDK (incl. aws-chunked uploads) and boto3 (signed
 * payload hash), presigned URLs made by boto3; wrong secrets, unknown keys, anonymous
 * requests, tampered and expired presigned URLs are refused with S3's codes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { awsEnv, boto3, raw, startS3Env, xmlField, type S3Env } from './env.js';

let env: S3Env;
before(async () => {
  env = await startS3Env({ workerEnv: { ALLUXIO_S3_CREDENTIALS: 'AKIDTEST:s3cr3t/key+x,SECOND:other' } });
  writeFileSync(join(env.data, 'doc.txt'), 'signed content');
});
after(async () => {
  await env?.destroy();
});

async function errName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).name;
  }
  return 'no error';
}

test('JS SDK with a configured key pair: get, list, put (buffer and aws-chunked stream)', async () => {
  const s3 = env.sdk({ accessKeyId: 'AKIDTEST', secretAccessKey: 's3cr3t/key+x' });
  const g = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'doc.txt' }));
  assert.equal(await g.Body?.transformToString(), 'signed content');
  const l = await s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'd', StartAfter: 'a b' }));
  assert.deepEqual(l.Contents?.map((c) => c.Key), ['doc.txt']);
  await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'with space/é.txt', Body: 'unicode key' }));
  assert.equal(readFileSync(join(env.data, 'with space', 'é.txt'), 'utf8'), 'unicode key');
  const big = Buffer.alloc(300_000, 3);
  await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'stream.bin', Body: Readable.from([big.subarray(0, 100_000), big.subarray(100_000)]), ContentLength: big.length }));
  assert.ok(readFileSync(join(env.data, 'stream.bin')).equals(big));
  const second = env.sdk({ accessKeyId: 'SECOND', secretAccessKey: 'other' });
  assert.equal(await (await second.send(new GetObjectCommand({ Bucket: 'data', Key: 'doc.txt' }))).Body?.transformToString(), 'signed content');
});

test('bad signatures, unknown keys and anonymous requests are refused', async () => {
  const wrong = env.sdk({ accessKeyId: 'AKIDTEST', secretAccessKey: 'not-the-secret' });
  assert.equal(await errName(wrong.send(new GetObjectCommand({ Bucket: 'data', Key: 'doc.txt' }))), 'SignatureDoesNotMatch');
  assert.equal(await errName(wrong.send(new PutObjectCommand({ Bucket: 'data', Key: 'evil.txt', Body: 'x' }))), 'SignatureDoesNotMatch');
  assert.equal(existsSync(join(env.data, 'evil.txt')), false);
  const unknown = env.sdk({ accessKeyId: 'NOBODY', secretAccessKey: 'x' });
  assert.equal(await errName(unknown.send(new GetObjectCommand({ Bucket: 'data', Key: 'doc.txt' }))), 'InvalidAccessKeyId');
  const anon = await raw(env.worker.s3Url, 'GET', '/data/doc.txt');
  assert.equal(anon.status, 403);
  assert.equal(xmlField(anon.body, 'Code'), 'AccessDenied');
  const anonPut = await raw(env.worker.s3Url, 'PUT', '/data/anon.txt', 'x');
  assert.equal(anonPut.status, 403);
  assert.equal(existsSync(join(env.data, 'anon.txt')), false);
});

test('boto3: signed payloads work (SigV4 header), SigV2 and SigV4 presigned URLs, a wrong secret does not; presigned URLs verify, tampered and expired ones do not', async () => {
  const r = await boto3(
    env.worker.s3Url,
    `
out = {}
s3.put_object(Bucket="data", Key="py.txt", Body=b"boto3 signed body")
out["get"] = s3.get_object(Bucket="data", Key="py.txt")["Body"].read().decode()
out["url"] = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "doc.txt"}, ExpiresIn=300)
out["short"] = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "doc.txt"}, ExpiresIn=1)
out["put_url"] = s3.generate_presigned_url("put_object", Params={"Bucket": "data", "Key": "presigned-put.txt"}, ExpiresIn=300)
v4 = boto3.client("s3", endpoint_url=${JSON.stringify(env.worker.s3Url)}, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
out["v4url"] = v4.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "with space/é.txt"}, ExpiresIn=300)
bad = boto3.client("s3", endpoint_url=${JSON.stringify(env.worker.s3Url)}, aws_access_key_id="AKIDTEST", aws_secret_access_key="wrong", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
try:
    bad.get_object(Bucket="data", Key="doc.txt")
    out["bad"] = "allowed"
except botocore.exceptions.ClientError as e:
    out["bad"] = e.response["Error"]["Code"]
print(json.dumps(out))
`,
    awsEnv('AKIDTEST', 's3cr3t/key+x'),
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(out.get, 'boto3 signed body');
  assert.equal(out.bad, 'SignatureDoesNotMatch');
  const ok = await fetch(out.url);
  const okText = await ok.text();
  assert.equal(ok.status, 200, okText);
  assert.equal(okText, 'signed content');
  assert.match(out.v4url, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
  const v4 = await fetch(out.v4url);
  const v4Text = await v4.text();
  assert.equal(v4.status, 200, v4Text);
  assert.equal(v4Text, 'unicode key');
  const v4bad = await fetch(String(out.v4url).replace(/X-Amz-Signature=[0-9a-f]{8}/, 'X-Amz-Signature=00000000'));
  assert.equal(v4bad.status, 403);
  const put = await fetch(out.put_url, { method: 'PUT', body: Buffer.from('via presigned put') }); // no Content-Type: it is signed (empty) in the URL
  assert.equal(put.status, 200, await put.text());
  assert.equal(readFileSync(join(env.data, 'presigned-put.txt'), 'utf8'), 'via presigned put');
  const tampered = await fetch(String(out.url).replace('/data/doc.txt', '/data/py.txt'));
  assert.equal(tampered.status, 403);
  assert.equal(xmlField(await tampered.text(), 'Code'), 'SignatureDoesNotMatch');
  // the 1-second URL expires: poll (with a deadline) until the worker says so
  const deadline = Date.now() + 15_000;
  let last = 0;
  let body = '';
  while (Date.now() < deadline) {
    const res = await fetch(out.short);
    last = res.status;
    body = await res.text();
    if (last === 403) break;
    await new Promise((r2) => setTimeout(r2, 250));
  }
  assert.equal(last, 403);
  assert.match(body, /expired/);
});

/**
 * A SigV4 header signature over exactly `canonicalHeaderBytes` (the test decides which bytes
 * the signer hashed), sent with `wireHeaders` (latin1 strings: one char per byte on the wire).
 */
function signV4(
  method: string,
  path: string,
  headers: Record<string, string>,
  signedBytes: (v: string) => Buffer,
  secret: string,
  ak: string,
  /** payload: the x-amz-content-sha256 sent (null: none, the empty body's hash signed); service: the scope's. */
  opts: { payload?: string | null; service?: string } = {},
): Record<string, string> {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const payload = opts.payload === undefined ? 'UNSIGNED-PAYLOAD' : opts.payload;
  const service = opts.service ?? 's3';
  const all: Record<string, string> = { ...headers, 'x-amz-date': amzDate, ...(payload !== null ? { 'x-amz-content-sha256': payload } : {}) };
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const canon = Buffer.concat([
    Buffer.from(`${method}\n${path}\n\n`),
    ...names.map((n) => Buffer.concat([Buffer.from(`${n}:`), signedBytes(all[Object.keys(all).find((k) => k.toLowerCase() === n)!]!.trim()), Buffer.from('\n')])),
    Buffer.from(`\n${names.join(';')}\n${payload ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'}`),
  ]);
  const scope = `${date}/us-east-1/${service}/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canon).digest('hex')}`;
  const h = (k: Buffer | string, s: string) => createHmac('sha256', k).update(s).digest();
  const key = h(h(h(h('AWS4' + secret, date), 'us-east-1'), service), 'aws4_request');
  const sig = createHmac('sha256', key).update(sts).digest('hex');
  return { ...all, authorization: `AWS4-HMAC-SHA256 Credential=${ak}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}` };
}

test('9: non-ASCII header values: UTF-8 bytes signed as sent, and latin1 bytes signed as their characters', async () => {
  // (Bodies are Buffers: Node sends a string body with its headers in one UTF-8 write.)
  const u = new URL(env.worker.s3Url);
  const meta = 'Hello Worldé naïve';
  // (a) the client sends the UTF-8 bytes and signs those bytes (Go SDK, curl --aws-sigv4)
  const utf8Wire = Buffer.from(meta, 'utf8').toString('latin1');
  const a = signV4('PUT', '/data/nonascii-a.txt', { host: u.host, 'x-amz-meta-meta1': utf8Wire }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST');
  const ra = await raw(env.worker.s3Url, 'PUT', '/data/nonascii-a.txt', Buffer.from('a'), a);
  assert.equal(ra.status, 200, ra.body.toString());
  // (b) the client sends latin1 bytes and signs the characters' UTF-8 (botocore, Node http)
  const b = signV4('PUT', '/data/nonascii-b.txt', { host: u.host, 'x-amz-meta-meta1': 'Hello Worldé' }, (v) => Buffer.from(v, 'utf8'), 's3cr3t/key+x', 'AKIDTEST');
  const rb = await raw(env.worker.s3Url, 'PUT', '/data/nonascii-b.txt', Buffer.from('b'), b);
  assert.equal(rb.status, 200, rb.body.toString());
  // (c) a value changed after signing is still refused
  const c = signV4('PUT', '/data/nonascii-c.txt', { host: u.host, 'x-amz-meta-meta1': utf8Wire }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST');
  c['x-amz-meta-meta1'] = Buffer.from('Hello Worldè naïve', 'utf8').toString('latin1');
  const rc = await raw(env.worker.s3Url, 'PUT', '/data/nonascii-c.txt', Buffer.from('c'), c);
  assert.equal(rc.status, 403);
  assert.equal(xmlField(rc.body, 'Code'), 'SignatureDoesNotMatch');
  assert.equal(existsSync(join(env.data, 'nonascii-c.txt')), false);
});

/** The status line the worker answers a request written by hand (raw bytes on a socket). */
function statusLine(u: URL, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) s.end();
    });
    s.on('end', () => resolve(got.split('\r\n')[0]!));
    s.on('error', reject);
    s.write(request);
  });
}

test('10: Expect: 100-continue is not answered before authentication', async () => {
  const u = new URL(env.worker.s3Url);
  await raw(env.worker.s3Url, 'GET', '/'); // the first request installs the listener (server.ts)
  const first = await statusLine(u, `PUT /data/expect.txt HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n`);
  assert.match(first, /^HTTP\/1\.1 403/);
  assert.equal(existsSync(join(env.data, 'expect.txt')), false);
});

test('15: a presigned URL with X-Amz-Expires=0 has expired (403), it is not malformed', async () => {
  const r = await raw(env.worker.s3Url, 'GET', '/data/doc.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=0&X-Amz-SignedHeaders=host&X-Amz-Signature=00');
  assert.equal(r.status, 403);
  assert.match(xmlField(r.body, 'Message') ?? '', /expired/);
});

test('the body must be the one the signature covers: aws-chunked added after signing, a presigned hash, no hash header (botocore signs)', async () => {
  const u = new URL(env.worker.s3Url);
  const r = await boto3(
    env.worker.s3Url,
    `
import http.client, hashlib
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
creds = Credentials("AKIDTEST", "s3cr3t/key+x")
def send(path, headers, body, query=""):
    c = http.client.HTTPConnection(${JSON.stringify(u.hostname)}, ${u.port})
    c.request("PUT", path + query, body=body, headers=headers)
    x = c.getresponse()
    data = x.read().decode()
    code = data.split("<Code>")[1].split("</Code>")[0] if "<Code>" in data else ""
    return [x.status, code]
def signed(path, body):
    req = AWSRequest(method="PUT", url=${JSON.stringify(env.worker.s3Url)} + path, data=body)
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return dict(req.headers)
out = {}
h = signed("/data/swap-a.txt", b"original")
out["swapped"] = send("/data/swap-a.txt", h, b"tampered")
h["Content-Encoding"] = "aws-chunked"
out["chunked"] = send("/data/swap-a.txt", h, b"9\\r\\ntampered!\\r\\n0\\r\\n\\r\\n")
out["honest"] = send("/data/swap-a.txt", signed("/data/swap-a.txt", b"original"), b"original")
# a presigned PUT that commits to a body's hash (X-Amz-Content-Sha256 in the query, signed
# as the payload hash, as MinIO takes it; botocore always presigns UNSIGNED-PAYLOAD)
import hmac, datetime, urllib.parse
now = datetime.datetime.now(datetime.timezone.utc)
amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = day + "/us-east-1/s3/aws4_request"
want = hashlib.sha256(b"signed content").hexdigest()
params = sorted({"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Content-Sha256": want, "X-Amz-Credential": "AKIDTEST/" + scope,
                 "X-Amz-Date": amz, "X-Amz-Expires": "300", "X-Amz-SignedHeaders": "host"}.items())
cq = "&".join(urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~") for k, v in params)
creq = "\\n".join(["PUT", "/data/swap-b.txt", cq, "host:" + ${JSON.stringify(u.host)} + "\\n", "host", want])
sts = "\\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
k = ("AWS4" + "s3cr3t/key+x").encode()
for part in (day, "us-east-1", "s3", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
url = "/data/swap-b.txt?" + cq + "&X-Amz-Signature=" + hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
out["presigned_other"] = send(url, {}, b"OTHER")
out["presigned_same"] = send(url, {}, b"signed content")
# a presigned URL covers no hash (botocore: UNSIGNED-PAYLOAD): one the client declares still counts
q = AWSRequest(method="PUT", url=${JSON.stringify(env.worker.s3Url)} + "/data/swap-d.txt")
S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=300).add_auth(q)
out["presigned_declared"] = send(q.url[len(${JSON.stringify(env.worker.s3Url)}):], {"x-amz-content-sha256": hashlib.sha256(b"expected").hexdigest()}, b"other")
print(json.dumps(out))
`,
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, [number, string]>;
  assert.deepEqual(out.swapped, [400, 'XAmzContentSHA256Mismatch']);
  assert.deepEqual(out.chunked, [400, 'XAmzContentSHA256Mismatch'], 'an unsigned Content-Encoding: aws-chunked does not switch the check off');
  assert.deepEqual(out.honest, [200, '']);
  assert.equal(readFileSync(join(env.data, 'swap-a.txt'), 'utf8'), 'original');
  assert.deepEqual(out.presigned_other, [400, 'XAmzContentSHA256Mismatch']);
  assert.deepEqual(out.presigned_same, [200, '']);
  assert.equal(readFileSync(join(env.data, 'swap-b.txt'), 'utf8'), 'signed content');
  assert.deepEqual(out.presigned_declared, [400, 'XAmzContentSHA256Mismatch']);
  assert.equal(existsSync(join(env.data, 'swap-d.txt')), false);

  // A value that is neither a hash nor one of AWS's keywords, signed as it is: refused, nothing written.
  const odd = signV4('PUT', '/data/swap-e.txt', { host: u.host }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST', { payload: 'not-a-hash' });
  const re = await raw(env.worker.s3Url, 'PUT', '/data/swap-e.txt', Buffer.from('garbage hash'), odd);
  assert.equal(re.status, 400, re.body.toString());
  assert.equal(xmlField(re.body, 'Code'), 'InvalidArgument');
  assert.equal(existsSync(join(env.data, 'swap-e.txt')), false);

  // A SigV4 header signature without x-amz-content-sha256 covers no body (AWS: missing header).
  const noHash = signV4('PUT', '/data/swap-c.txt', { host: u.host }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST', { payload: null });
  const rc = await raw(env.worker.s3Url, 'PUT', '/data/swap-c.txt', Buffer.alloc(100, 7), noHash);
  assert.equal(rc.status, 400, rc.body.toString());
  assert.equal(xmlField(rc.body, 'Code'), 'InvalidRequest');
  assert.match(xmlField(rc.body, 'Message') ?? '', /x-amz-content-sha256/);
  assert.equal(existsSync(join(env.data, 'swap-c.txt')), false);
  const get = await raw(env.worker.s3Url, 'GET', '/data/doc.txt', undefined, signV4('GET', '/data/doc.txt', { host: u.host }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST', { payload: null }));
  assert.equal(get.status, 200, 'a GET without the header still works (curl --aws-sigv4 sends none)');
});

test('the credential scope names service s3; a header sent twice is signed as "a,b"', async () => {
  const u = new URL(env.worker.s3Url);
  const ec2 = signV4('GET', '/data/doc.txt', { host: u.host }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST', { service: 'ec2' });
  const r = await raw(env.worker.s3Url, 'GET', '/data/doc.txt', undefined, ec2);
  assert.equal(r.status, 400);
  assert.equal(xmlField(r.body, 'Code'), 'AuthorizationHeaderMalformed');
  assert.match(xmlField(r.body, 'Message') ?? '', /incorrect service (&quot;|")ec2/);
  // Two x-amz-meta-d lines: the signer joins the values with ','.
  const twice = signV4('PUT', '/data/twice.txt', { host: u.host, 'x-amz-meta-d': 'a,b' }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST');
  const { 'x-amz-meta-d': _, ...rest } = twice;
  const lines = Object.entries(rest).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const first = await statusLine(u, `PUT /data/twice.txt HTTP/1.1\r\n${lines}x-amz-meta-d: a\r\nx-amz-meta-d: b\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`);
  assert.match(first, /^HTTP\/1\.1 200/);
});

test('SigV2 (boto3 signature_version="s3") bucket requests verify; a refused streamed upload reads its error, not a reset', async () => {
  const r = await boto3(
    env.worker.s3Url,
    `
v2 = boto3.client("s3", endpoint_url=${JSON.stringify(env.worker.s3Url)}, config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
out = {}
v2.put_object(Bucket="data", Key="v2/a.txt", Body=b"a")
out["list"] = [o["Key"] for o in v2.list_objects_v2(Bucket="data", Prefix="v2/").get("Contents", [])]
out["list1"] = [o["Key"] for o in v2.list_objects(Bucket="data", Prefix="v2/").get("Contents", [])]
out["head"] = v2.head_bucket(Bucket="data")["ResponseMetadata"]["HTTPStatusCode"]
# (DeleteObjects is not here: this botocore, 1.29, signs "/data?delete?delete")
print(json.dumps(out))
`,
    awsEnv('AKIDTEST', 's3cr3t/key+x'),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { list: ['v2/a.txt'], list1: ['v2/a.txt'], head: 200 });
  // A stream (the SDK sends Expect: 100-continue), refused at once: the SDK gets S3's answer.
  const wrong = env.sdk({ accessKeyId: 'AKIDTEST', secretAccessKey: 'not-the-secret' });
  const body = Readable.from((function* () {
    for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, i);
  })());
  assert.equal(await errName(wrong.send(new PutObjectCommand({ Bucket: 'data', Key: 'streamed-refused.bin', Body: body, ContentLength: 64 * 64 * 1024 }))), 'SignatureDoesNotMatch');
  assert.equal(existsSync(join(env.data, 'streamed-refused.bin')), false);
});

test('x-amz-* headers a SigV4 signer did not sign are refused: a presigned PUT is not replayed as a copy, no unsigned metadata', async () => {
  const u = new URL(env.worker.s3Url);
  writeFileSync(join(env.data, 'secret.txt'), 'not for the URL holder');
  const r = await boto3(
    env.worker.s3Url,
    `
import http.client
v4 = boto3.client("s3", endpoint_url=${JSON.stringify(env.worker.s3Url)}, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
url = v4.generate_presigned_url("put_object", Params={"Bucket": "data", "Key": "upload.txt"}, ExpiresIn=300)
def put(headers, body=b""):
    c = http.client.HTTPConnection(${JSON.stringify(u.hostname)}, ${u.port})
    c.request("PUT", url[len(${JSON.stringify(env.worker.s3Url)}):], body=body, headers=headers)
    x = c.getresponse()
    data = x.read().decode()
    return [x.status, data.split("<Code>")[1].split("</Code>")[0] if "<Code>" in data else "", data]
out = {}
out["copy"] = put({"x-amz-copy-source": "/data/secret.txt"})
out["meta"] = put({"x-amz-meta-owner": "mallory"}, b"x")
out["plain"] = put({}, b"honest upload")
print(json.dumps(out))
`,
    awsEnv('AKIDTEST', 's3cr3t/key+x'),
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, [number, string, string?]>;
  assert.equal(out.copy![0], 403);
  assert.equal(out.copy![1], 'AccessDenied');
  assert.match(out.copy![2]!, /<HeadersNotSigned>x-amz-copy-source<\/HeadersNotSigned>/);
  assert.deepEqual(out.meta!.slice(0, 2), [403, 'AccessDenied']);
  assert.deepEqual(out.plain!.slice(0, 2), [200, '']);
  assert.equal(readFileSync(join(env.data, 'upload.txt'), 'utf8'), 'honest upload');

  // A header signature, then a header added that it does not cover: refused, nothing written.
  const h = signV4('PUT', '/data/added.txt', { host: u.host }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST');
  const added = await raw(env.worker.s3Url, 'PUT', '/data/added.txt', Buffer.from('x'), { ...h, 'x-amz-meta-extra': '1' });
  assert.equal(added.status, 403, added.body.toString());
  assert.equal(xmlField(added.body, 'Code'), 'AccessDenied');
  assert.equal(existsSync(join(env.data, 'added.txt')), false);
  // The same request with the header signed goes through.
  const ok = signV4('PUT', '/data/added.txt', { host: u.host, 'x-amz-meta-extra': '1' }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST');
  assert.equal((await raw(env.worker.s3Url, 'PUT', '/data/added.txt', Buffer.from('x'), ok)).status, 200);
});

test('another authorization scheme is 400 InvalidArgument, a credential date other than x-amz-date is malformed (400), as AWS answers', async () => {
  const u = new URL(env.worker.s3Url);
  const bearer = await raw(env.worker.s3Url, 'GET', '/data/doc.txt', undefined, { authorization: 'Bearer abc' });
  assert.equal(bearer.status, 400, bearer.body.toString());
  assert.equal(xmlField(bearer.body, 'Code'), 'InvalidArgument');
  assert.equal(xmlField(bearer.body, 'ArgumentName'), 'Authorization');
  // a SigV2 header that is not "AWS AK:signature" (s3-tests: test_object_create_bad_authorization_invalid_aws2)
  const v2 = await raw(env.worker.s3Url, 'GET', '/data/doc.txt', undefined, { authorization: 'AWS HAHAHA' });
  assert.equal(v2.status, 400, v2.body.toString());
  assert.equal(xmlField(v2.body, 'Code'), 'InvalidArgument');
  // A header signature whose credential names yesterday.
  const h = signV4('GET', '/data/doc.txt', { host: u.host }, (v) => Buffer.from(v, 'latin1'), 's3cr3t/key+x', 'AKIDTEST');
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
  const moved = { ...h, authorization: h.authorization!.replace(/Credential=AKIDTEST\/\d{8}\//, `Credential=AKIDTEST/${yesterday}/`) };
  const r = await raw(env.worker.s3Url, 'GET', '/data/doc.txt', undefined, moved);
  assert.equal(r.status, 400, r.body.toString());
  assert.equal(xmlField(r.body, 'Code'), 'AuthorizationHeaderMalformed');
  assert.match(xmlField(r.body, 'Message') ?? '', /Invalid credential date/);
});
