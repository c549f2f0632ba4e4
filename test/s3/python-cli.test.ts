/**
 * boto3 (Debian's python3-boto3, /usr/bin/python3) and the AWS CLI (/usr/bin/aws) against
 * a real worker process: reads, ranges, paginated listings, single and multipart uploads,
 * deletes, copies, read-only refusal and a traversal attempt.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { awsCli, boto3, startS3Env, type S3Env } from './env.js';

let env: S3Env;
before(async () => {
  env = await startS3Env();
  mkdirSync(join(env.data, 'many'), { recursive: true });
  for (let i = 0; i < 25; i++) writeFileSync(join(env.data, 'many', `k${String(i).padStart(3, '0')}`), `v${i}`);
  writeFileSync(join(env.data, 'hello.txt'), 'hello world');
});
after(async () => {
  await env?.destroy();
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('boto3: get, range, paginated listing, head, put, delete, copy', async () => {
  const r = await boto3(
    env.worker.s3Url,
    `
out = {}
out["get"] = s3.get_object(Bucket="data", Key="hello.txt")["Body"].read().decode()
out["range"] = s3.get_object(Bucket="data", Key="hello.txt", Range="bytes=-5")["Body"].read().decode()
keys = []
pages = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="data", Prefix="many/", PaginationConfig={"PageSize": 7}):
    pages += 1
    keys += [c["Key"] for c in page.get("Contents", [])]
out["keys"] = keys
out["pages"] = pages
v1 = []
for page in s3.get_paginator("list_objects").paginate(Bucket="data", Prefix="many/", PaginationConfig={"PageSize": 10}):
    v1 += [c["Key"] for c in page.get("Contents", [])]
out["v1"] = v1
out["cps"] = [p["Prefix"] for p in s3.list_objects_v2(Bucket="data", Delimiter="/").get("CommonPrefixes", [])]
s3.put_object(Bucket="data", Key="py/put.txt", Body=b"from boto3 with spaces & +plus")
out["head"] = s3.head_object(Bucket="data", Key="py/put.txt")["ContentLength"]
s3.copy_object(Bucket="data", Key="py/copy.txt", CopySource={"Bucket": "data", "Key": "py/put.txt"})
s3.put_object(Bucket="data", Key="py/odd key +&=.txt", Body=b"odd")
out["odd"] = [c["Key"] for c in s3.list_objects_v2(Bucket="data", Prefix="py/odd")["Contents"]]
s3.delete_object(Bucket="data", Key="py/put.txt")
try:
    s3.put_object(Bucket="ro", Key="nope", Body=b"x")
    out["ro"] = "allowed"
except botocore.exceptions.ClientError as e:
    out["ro"] = e.response["Error"]["Code"]
try:
    s3.get_object(Bucket="data", Key="missing")
except botocore.exceptions.ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
print(json.dumps(out))
`,
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(out.get, 'hello world');
  assert.equal(out.range, 'world');
  const want = Array.from({ length: 25 }, (_, i) => `many/k${String(i).padStart(3, '0')}`);
  assert.deepEqual(out.keys, want);
  assert.equal(out.pages, 4);
  assert.deepEqual(out.v1, want);
  assert.deepEqual(out.cps, ['many/']);
  assert.equal(out.head, 'from boto3 with spaces & +plus'.length);
  assert.deepEqual(out.odd, ['py/odd key +&=.txt']);
  assert.equal(readFileSync(join(env.data, 'py', 'odd key +&=.txt'), 'utf8'), 'odd');
  assert.equal(readFileSync(join(env.data, 'py', 'copy.txt'), 'utf8'), 'from boto3 with spaces & +plus');
  assert.equal(existsSync(join(env.data, 'py', 'put.txt')), false);
  assert.equal(out.ro, 'AccessDenied');
  assert.equal(out.missing, 'NoSuchKey');
});

test('boto3 upload_file / download_file with a small multipart threshold', async () => {
  const src = join(env.dir, 'boto-src.bin');
  const dst = join(env.dir, 'boto-dst.bin');
  const data = randomBytes(12 * 1024 * 1024 + 333);
  writeFileSync(src, data);
  const r = await boto3(
    env.worker.s3Url,
    `
from boto3.s3.transfer import TransferConfig
cfg = TransferConfig(multipart_threshold=5*1024*1024, multipart_chunksize=5*1024*1024, max_concurrency=3)
s3.upload_file(${JSON.stringify(src)}, "data", "py/multi.bin", Config=cfg)
s3.download_file("data", "py/multi.bin", ${JSON.stringify(dst)}, Config=cfg)
print(json.dumps({"etag": s3.head_object(Bucket="data", Key="py/multi.bin")["ETag"]}))
`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(md5(readFileSync(join(env.data, 'py', 'multi.bin'))), md5(data));
  assert.equal(md5(readFileSync(dst)), md5(data));
  // Parts are gone; only the completion records (for retried Completes) remain.
  assert.deepEqual(readdirSync(join(env.dir, 'staging')).filter((n) => n !== 'completed'), [], 'staging is cleaned after Complete');
  assert.deepEqual(readdirSync(join(env.dir, 'staging', 'completed')).map((n) => /^[0-9a-f]{32}\.json$/.test(n)), [true]);
});

test('AWS CLI: cp of a >8 MB file (multipart) both ways, ls, rm, read-only refusal', async () => {
  const src = join(env.dir, 'cli-src.bin');
  const back = join(env.dir, 'cli-back.bin');
  const data = randomBytes(20 * 1024 * 1024 + 7);
  writeFileSync(src, data);
  let r = await awsCli(env.worker.s3Url, ['s3', 'cp', '--only-show-errors', src, 's3://data/cli/big.bin']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(md5(readFileSync(join(env.data, 'cli', 'big.bin'))), md5(data));
  r = await awsCli(env.worker.s3Url, ['s3', 'cp', '--only-show-errors', 's3://data/cli/big.bin', back]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(md5(readFileSync(back)), md5(data));
  r = await awsCli(env.worker.s3Url, ['s3', 'ls', 's3://data/cli/']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${data.length} big.bin`));
  r = await awsCli(env.worker.s3Url, ['s3api', 'list-objects-v2', '--bucket', 'data', '--prefix', 'many/', '--page-size', '10', '--output', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).Contents.length, 25);
  r = await awsCli(env.worker.s3Url, ['s3', 'cp', '--only-show-errors', 's3://data/cli/big.bin', 's3://data/cli/copy.bin']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(md5(readFileSync(join(env.data, 'cli', 'copy.bin'))), md5(data));
  r = await awsCli(env.worker.s3Url, ['s3', 'rm', 's3://data/cli/big.bin']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(env.data, 'cli', 'big.bin')), false);
  r = await awsCli(env.worker.s3Url, ['s3', 'cp', src, 's3://ro/x.bin']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /AccessDenied/);
  assert.deepEqual(readdirSync(env.ro), ['readme.txt']);
  r = await awsCli(env.worker.s3Url, ['s3api', 'get-object', '--bucket', 'data', '--key', '../outside/secret', join(env.dir, 'stolen')]);
  assert.notEqual(r.code, 0);
  assert.equal(existsSync(join(env.dir, 'stolen')) && readFileSync(join(env.dir, 'stolen'), 'utf8') === 'top secret', false);
});
